//! `swim`: the agent and its client commands (see the crate documentation
//! of `swim_agent` and `swim --help`).

#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = swim_agent::cli::Cli::parse();
    match swim_agent::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("error: {failure}");
            failure.exit_code()
        }
    }
}
