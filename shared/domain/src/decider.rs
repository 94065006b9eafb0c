//! The `Decider` every stream Stint writes implements: `decide` turns a command into events or
//! a rejection, `evolve` folds an event into the state. Both are pure.

use crate::event::Envelope;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// One stream's rules. `Body` is the stream's own event enum, serde-tagged `type`/`payload`.
pub trait Decider {
    type State: Default + Clone + std::fmt::Debug + Send;
    type Command: Sync;
    type Body: Serialize + DeserializeOwned + std::fmt::Debug + Send + Sync;
    /// What a decision may look at besides the state: the time, the catalog.
    type Context<'a>;
    type Rejection: std::error::Error + Send + Sync + 'static;

    fn decide(
        state: &Self::State,
        command: &Self::Command,
        ctx: &Self::Context<'_>,
    ) -> Result<Vec<Envelope<Self::Body>>, Self::Rejection>;

    fn evolve(state: Self::State, event: &Envelope<Self::Body>) -> Self::State;

    fn fold<'a>(events: impl IntoIterator<Item = &'a Envelope<Self::Body>>) -> Self::State
    where
        Self::Body: 'a,
    {
        events
            .into_iter()
            .fold(Self::State::default(), Self::evolve)
    }
}

/// Given/when/then for deciders: `given` events, `when` a command, `then` the events or
/// rejection. Used by each decider's tests.
#[cfg(test)]
pub(crate) fn given<D: Decider>(events: &[Envelope<D::Body>]) -> D::State {
    D::fold(events)
}
