//! What the DynamoDB store's calls cost, for the cost model: capacity units as DynamoDB
//! reports them (`ReturnConsumedCapacity`) and as its pricing rules give them from item
//! sizes, which is what counts where an emulator reports none or a constant.

use aws_sdk_dynamodb::types::{AttributeValue, ConsumedCapacity};
use std::collections::HashMap;
use std::sync::Mutex;

/// Running totals of one store's requests. Attach with `DynamoEventStore::with_meter`.
#[derive(Debug, Default)]
pub struct CapacityMeter(Mutex<Capacity>);

/// Totals in capacity units (on demand: request units).
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Capacity {
    pub read_requests: u64,
    pub write_requests: u64,
    pub items_written: u64,
    /// From item sizes: a strongly consistent read is 1 unit per 4 KB of the items a request
    /// returns (at least 1), an eventually consistent one half that.
    pub read_units: f64,
    /// From item sizes: 1 unit per KB of each item written (2 in a transaction), and as much
    /// again for the copy in the day index (projected ALL).
    pub write_units: f64,
    /// What the service said it consumed, where it said anything.
    pub reported_read_units: f64,
    pub reported_write_units: f64,
}

impl CapacityMeter {
    pub fn totals(&self) -> Capacity {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// One read request that returned `items`.
    pub fn read(
        &self,
        items: &[HashMap<String, AttributeValue>],
        consistent: bool,
        reported: Option<&ConsumedCapacity>,
    ) {
        let bytes: usize = items.iter().map(item_size).sum();
        let units = (bytes.div_ceil(4096)).max(1) as f64;
        let mut c = self.0.lock().unwrap_or_else(|p| p.into_inner());
        c.read_requests += 1;
        c.read_units += if consistent { units } else { units / 2.0 };
        c.reported_read_units += reported.and_then(|r| r.capacity_units()).unwrap_or(0.0);
    }

    /// One write request that put items of `sizes` (see [`item_size`]), in a transaction
    /// or not.
    pub fn write(&self, sizes: &[usize], transaction: bool, reported: &[ConsumedCapacity]) {
        let mut c = self.0.lock().unwrap_or_else(|p| p.into_inner());
        c.write_requests += 1;
        for size in sizes {
            let kb = size.div_ceil(1024).max(1) as f64;
            c.items_written += 1;
            c.write_units += if transaction { 2.0 * kb } else { kb } + kb;
        }
        c.reported_write_units += reported
            .iter()
            .filter_map(ConsumedCapacity::capacity_units)
            .sum::<f64>();
    }
}

impl CapacityMeter {
    /// One `PutItem` of an item of `size` bytes to a table with no index.
    pub fn write_unindexed(&self, size: usize) {
        let mut c = self.0.lock().unwrap_or_else(|p| p.into_inner());
        c.write_requests += 1;
        c.items_written += 1;
        c.write_units += size.div_ceil(1024).max(1) as f64;
    }
}

/// An item's size as DynamoDB bills it: attribute names plus values (UTF-8 strings, numbers
/// at about one byte per two digits plus one, 3 bytes and 1 per element for lists and maps).
pub fn item_size(item: &HashMap<String, AttributeValue>) -> usize {
    item.iter().map(|(k, v)| k.len() + value_size(v)).sum()
}

fn value_size(v: &AttributeValue) -> usize {
    match v {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => n.trim_start_matches('-').len().div_ceil(2) + 1,
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::Ss(v) => v.iter().map(String::len).sum(),
        AttributeValue::Ns(v) => v.iter().map(|n| n.len().div_ceil(2) + 1).sum(),
        AttributeValue::Bs(v) => v.iter().map(|b| b.as_ref().len()).sum(),
        AttributeValue::L(l) => 3 + l.iter().map(|e| 1 + value_size(e)).sum::<usize>(),
        AttributeValue::M(m) => {
            3 + m
                .iter()
                .map(|(k, e)| 1 + k.len() + value_size(e))
                .sum::<usize>()
        }
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(payload: &str) -> HashMap<String, AttributeValue> {
        HashMap::from([
            ("stream".to_owned(), AttributeValue::S("request#1".into())),
            ("version".to_owned(), AttributeValue::N("12".into())),
            ("payload".to_owned(), AttributeValue::S(payload.into())),
        ])
    }

    #[test]
    fn sizes_follow_dynamodbs_rules() {
        // 6+9 + 7+2 + 7+3
        assert_eq!(item_size(&item("abc")), 34);
    }

    #[test]
    fn units_round_up_per_kb_written_and_per_4kb_read() {
        let m = CapacityMeter::default();
        let big = item(&"x".repeat(1500));
        let size = item_size(&big);
        m.write(&[size], false, &[]);
        m.write(&[size, size], true, &[]);
        m.read(&[big.clone(), big.clone(), big.clone()], true, None);
        m.read(&[], false, None);
        let c = m.totals();
        // 2 KB each: 2 + 2 (index); then 2 x (4 + 2).
        assert_eq!(c.write_units, 4.0 + 12.0);
        assert_eq!((c.write_requests, c.items_written), (2, 3));
        // 3 x 1.5 KB = 2 units strongly consistent; an empty eventually consistent read 0.5.
        assert_eq!(c.read_units, 2.0 + 0.5);
        assert_eq!(c.read_requests, 2);
    }
}
