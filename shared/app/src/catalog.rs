//! Recording the catalog a process has loaded in the catalog history, through the one
//! `execute`: the first process to load a version appends `CatalogChanged`; every other one,
//! and every racing cold start that loses, finds it current and appends nothing.

use crate::execute::{execute, ConflictPolicy};
use crate::ports::{Clock, EventStore};
use crate::service::AppError;
use stint_domain::catalog_history::{CatalogHistory, RecordCatalog};
use stint_domain::StreamId;

/// Appends the catalog to the history unless it is already current there, or older than the
/// current one. Returns whether it appended.
pub async fn record_catalog(
    store: &dyn EventStore,
    clock: &dyn Clock,
    conflicts: &ConflictPolicy,
    command: &RecordCatalog,
) -> Result<bool, AppError> {
    let done = execute::<CatalogHistory>(
        store,
        clock,
        conflicts,
        &StreamId::for_catalog(),
        command,
        |now| now,
    )
    .await?;
    let appended = !done.appended.is_empty();
    let current = done
        .state
        .current
        .as_ref()
        .map(|c| c.hash.short().to_owned());
    tracing::info!(
        hash = %command.hash,
        source = %command.source,
        loaded_by = %command.loaded_by,
        appended,
        current = ?current,
        versions = done.state.hashes.len(),
        "{}",
        if appended {
            "catalog recorded"
        } else {
            "catalog not recorded: it is the current one, or older than it"
        }
    );
    Ok(appended)
}

/// The review window of the catalog last recorded in the history: what the functions decided
/// by, read from the trail rather than from the parameter. The catalog's default (14 days)
/// when nothing is recorded yet, or the record predates the window being kept.
pub async fn recorded_review_window(
    store: &dyn EventStore,
) -> Result<stint_domain::AccessDuration, AppError> {
    let history = crate::execute::load::<CatalogHistory>(store, &StreamId::for_catalog()).await?;
    Ok(history
        .state
        .current
        .and_then(|c| c.snapshot.review_window())
        .unwrap_or_else(|| stint_domain::catalog::Settings::default().review_within))
}
