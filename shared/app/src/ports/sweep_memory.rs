//! The sweep-memory port: where the periodic sweep keeps its cursor between runs (not the
//! event store, which only appends).

use super::StoreError;
use async_trait::async_trait;
use stint_domain::sweep::SweepCursor;

#[async_trait]
pub trait SweepMemory: Send + Sync {
    /// The last cursor saved; `None` when there is none, or it cannot be read as a cursor
    /// (the sweep then reads the whole window, as it would without one).
    async fn load(&self) -> Result<Option<SweepCursor>, StoreError>;

    /// Replaces the cursor. Two runs racing may each save; either cursor is complete for the
    /// instant it names, so the last write winning loses nothing.
    async fn save(&self, cursor: &SweepCursor) -> Result<(), StoreError>;
}
