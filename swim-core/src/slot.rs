//! Stable indexes of members in the member table, shared by the tables
//! that refer to members without depending on the member table itself.

/// Stable index of a member in the table.
pub(crate) type Slot = u32;
