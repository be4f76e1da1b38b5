//! Room a collection keeps after it has emptied. Hash maps and deques never give back what they
//! grew to, and the first list fills some of them with every app for a moment: at 50,000 apps
//! the turns queued for the drift history (21 MB) and the history's maps of apps with something
//! pending (12 MB) stayed allocated, empty, for the life of the process (heaptrack,
//! docs/benchmarks.md "Room kept after the first list"). Their owners call
//! [`Slack::release_slack`] where such a burst drains.

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{BuildHasher, Hash};

/// Room below this is never worth giving back.
const KEEP: usize = 1024;

/// Whether a collection of `len` items in room for `capacity` holds mostly slack.
fn is_slack(len: usize, capacity: usize) -> bool {
    capacity > KEEP && len.saturating_mul(4) < capacity
}

/// The room to keep: twice what is held, so a collection that shrinks and grows a little
/// does not reallocate each time.
fn room_for(len: usize) -> usize {
    len.saturating_mul(2).max(KEEP / 4)
}

pub trait Slack {
    /// Gives back room when under a quarter of it is used (and it is room for more than 1,024).
    /// Returns whether it did.
    fn release_slack(&mut self) -> bool;
}

/// The same body for each collection: they share `len`, `capacity` and `shrink_to` by name only.
macro_rules! release_slack_of {
    ($($ty:ty => [$($generics:tt)*]),+ $(,)?) => {$(
        impl<$($generics)*> Slack for $ty {
            fn release_slack(&mut self) -> bool {
                let shrink = is_slack(self.len(), self.capacity());
                if shrink {
                    self.shrink_to(room_for(self.len()));
                }
                shrink
            }
        }
    )+};
}

release_slack_of!(
    HashMap<K, V, S> => [K: Eq + Hash, V, S: BuildHasher],
    HashSet<T, S> => [T: Eq + Hash, S: BuildHasher],
    VecDeque<T> => [T],
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_drained_burst_gives_its_room_back_and_a_busy_collection_keeps_it() {
        let mut queue: VecDeque<u64> = (0..50_000).collect();
        queue.drain(..49_990);
        assert!(queue.release_slack());
        assert!(queue.capacity() < 2 * KEEP, "{}", queue.capacity());
        assert_eq!(queue.len(), 10, "nothing held is lost");

        let mut map: HashMap<u64, u64> = (0..50_000).map(|i| (i, i)).collect();
        map.retain(|k, _| *k < 100);
        assert!(map.release_slack());
        assert!(map.capacity() < 2 * KEEP, "{}", map.capacity());
        assert_eq!(map.len(), 100);

        // Half full: kept as it is.
        let mut set: HashSet<u64> = (0..50_000).collect();
        set.retain(|k| *k < 25_000);
        let room = set.capacity();
        assert!(!set.release_slack());
        assert_eq!(set.capacity(), room);

        // Small: never worth it.
        let mut small: VecDeque<u64> = VecDeque::with_capacity(KEEP);
        small.push_back(1);
        assert!(!small.release_slack());
    }
}
