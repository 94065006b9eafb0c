//! The `relay` Lambda: reads the event store's DynamoDB stream and puts every stored event on
//! the `stint` bus, in order, reporting the first failure so nothing stored is lost.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use stint_aws::{lambda, runtime};

#[tokio::main]
async fn main() -> Result<(), Error> {
    runtime::init_tracing();
    let sdk = runtime::lambda_sdk_config();
    let bus = runtime::bus_from_env(&sdk)?;
    let bus = &bus;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<lambda::StreamEvent>| lambda::handle_relay(bus, event),
    ))
    .await
}
