//! Loading a saved membership (`import_member`) and joining through a long
//! seed list.

mod harness;

use std::time::Duration;

use harness::Cluster;
use swim_core::{
    CommandError, Config, Event, Identity, KnownMember, LocalEvent, MemberState, MAX_SEEDS,
};

/// Every view node `i` holds, as owned values: (identity, incarnation,
/// state, metadata, metadata version).
type Saved = Vec<(Identity<u32>, u32, MemberState, Vec<u8>, u32)>;

fn save(c: &Cluster, i: u32) -> Saved {
    c.node(i)
        .members()
        .map(|m| {
            (
                m.identity.clone(),
                m.incarnation,
                m.state,
                m.metadata.to_vec(),
                m.metadata_version,
            )
        })
        .collect()
}

fn load(c: &mut Cluster, i: u32, saved: &Saved) {
    let now = c.now;
    for (identity, incarnation, state, metadata, metadata_version) in saved {
        let known = KnownMember {
            identity,
            incarnation: *incarnation,
            state: *state,
            metadata,
            metadata_version: *metadata_version,
        };
        assert_eq!(c.node_mut(i).import_member(now, known), Ok(true));
    }
    c.drain(i);
}

fn converged_cluster(n: u32, seed: u64) -> Cluster {
    let mut c = Cluster::new(n, Config::lan(), seed);
    for i in 0..n {
        let now = c.now;
        c.node_mut(i)
            .set_local_state(now, b"i", &[i as u8])
            .unwrap();
    }
    c.join_all_via(0);
    assert!(c
        .run_until(Duration::from_secs(30), Cluster::converged)
        .is_some());
    c.run_for(Duration::from_secs(10));
    c
}

/// Bytes node `i` sends in the `window` after a restart at generation 2,
/// which either loads its saved table or joins through node 0; and whether
/// the cluster then converged with the new generation.
fn restart_cost(import: bool, seed: u64) -> (u64, bool) {
    let mut c = converged_cluster(20, seed);
    let saved = save(&c, 7);
    c.kill(7);
    let joined_before = c.count_events(7, |e| *e == Event::Local(LocalEvent::Joined));
    c.restart(7, 2, 0, if import { &[] } else { &[0] });
    if import {
        load(&mut c, 7, &saved);
        let joined = c.count_events(7, |e| *e == Event::Local(LocalEvent::Joined));
        assert_eq!(joined, joined_before + 1, "joined by the import");
        assert_eq!(c.node(7).members().count(), 19, "every member loaded");
        assert!(c
            .node(7)
            .members()
            .all(|m| m.state_value(b"i") == Some(&[m.identity.addr as u8][..])));
    }
    c.run_for(Duration::from_secs(10));
    let sent = c.node(7).counters().bytes_out;
    let known_everywhere =
        (0..20).all(|j| j == 7 || c.view(j, 7) == Some((MemberState::Alive, 0, 2)));
    (sent, c.converged() && known_everywhere)
}

#[test]
fn a_restarted_node_that_loads_its_table_rejoins_without_a_full_exchange() {
    for seed in 1..=3 {
        let (imported, ok) = restart_cost(true, seed);
        assert!(ok, "seed {seed}: converged after an import");
        let (joined, ok) = restart_cost(false, seed);
        assert!(ok, "seed {seed}: converged after a join");
        eprintln!("seed {seed}: restart with import {imported} B, with join {joined} B");
        // A join pulls and pushes whole tables; a loaded table sends only
        // the probes and gossip of a member.
        assert!(
            imported * 3 < joined,
            "seed {seed}: {imported} bytes after an import against {joined} after a join"
        );
    }
}

fn known(identity: &Identity<u32>) -> KnownMember<'_, u32> {
    KnownMember {
        identity,
        incarnation: 3,
        state: MemberState::Alive,
        metadata: b"",
        metadata_version: 0,
    }
}

#[test]
fn import_arguments_are_checked() {
    let mut config = Config::lan();
    config.max_members = 2;
    let mut c = Cluster::new(1, config, 9);
    let now = c.now;
    let node = c.node_mut(0);
    assert_eq!(
        node.import_member(now, known(&Identity::new(0, 1))),
        Err(CommandError::LocalAddress)
    );
    node.refuse(now, &Identity::new(5, 4)).unwrap();
    assert_eq!(
        node.import_member(now, known(&Identity::new(5, 4))),
        Err(CommandError::Refused)
    );
    assert_eq!(
        node.import_member(now, known(&Identity::new(1, 1))),
        Ok(true)
    );
    assert_eq!(
        node.import_member(now, known(&Identity::new(1, 1))),
        Ok(false),
        "known as well already"
    );
    assert_eq!(
        node.import_member(now, known(&Identity::new(2, 1))),
        Ok(true)
    );
    assert_eq!(
        node.import_member(now, known(&Identity::new(3, 1))),
        Err(CommandError::TableFull)
    );
    let too_big = vec![0u8; usize::from(Config::lan().max_metadata_len) + 1];
    let id = Identity::new(1, 2);
    let big = KnownMember {
        metadata: &too_big,
        ..known(&id)
    };
    assert_eq!(
        node.import_member(now, big),
        Err(CommandError::MetadataTooLarge)
    );
}

#[test]
fn a_long_seed_list_is_sampled_down_to_max_seeds() {
    let mut c = Cluster::new(1, Config::lan(), 11);
    // 200 seeds, none of them running: every join attempt goes out.
    let seeds: Vec<u32> = (1000..1200).chain(1000..1100).collect();
    let now = c.now;
    c.node_mut(0).join(now, &seeds).unwrap();
    c.drain(0);
    c.run_for(Duration::from_secs(10));
    let contacted: Vec<u32> = c.to_outsiders.keys().copied().collect();
    assert_eq!(contacted.len(), MAX_SEEDS, "contacted: {contacted:?}");
    assert!(contacted.iter().all(|s| (1000..1200).contains(s)));
    // Another seed sample picks other seeds: the sample is random.
    let mut other = Cluster::new(1, Config::lan(), 12);
    let now = other.now;
    other.node_mut(0).join(now, &seeds).unwrap();
    other.drain(0);
    assert_ne!(
        other.to_outsiders.keys().copied().collect::<Vec<_>>(),
        contacted
    );
}
