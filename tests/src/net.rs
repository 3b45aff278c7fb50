//! The network model: per-link latency, jitter, loss, duplication,
//! reordering and bandwidth, plus partitions between groups of nodes.

use std::collections::BTreeMap;
use std::time::Duration;

use rand_core::Rng;

/// How one directed link behaves.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkModel {
    /// Fixed one-way delay.
    pub latency: Duration,
    /// Extra delay drawn uniformly from `0..jitter` for each datagram
    /// (datagrams can overtake each other when it exceeds their spacing).
    pub jitter: Duration,
    /// Probability that a datagram is lost (0.0 ..= 1.0).
    pub loss: f64,
    /// Probability that a datagram arrives twice.
    pub duplicate: f64,
    /// Probability that a datagram is held back by up to `reorder_delay`,
    /// so that later ones overtake it.
    pub reorder: f64,
    /// Longest extra hold of a reordered datagram.
    pub reorder_delay: Duration,
    /// Egress bandwidth of the sender in bytes per second (`None`:
    /// unlimited). Datagrams queue behind each other at the sender.
    pub bandwidth: Option<u64>,
}

impl Default for LinkModel {
    /// 1 ms latency, 200 µs jitter, no loss: a quiet LAN.
    fn default() -> Self {
        LinkModel {
            latency: Duration::from_millis(1),
            jitter: Duration::from_micros(200),
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            reorder_delay: Duration::from_millis(10),
            bandwidth: None,
        }
    }
}

impl LinkModel {
    /// The default link with `loss` probability of losing each datagram.
    pub fn with_loss(loss: f64) -> Self {
        LinkModel {
            loss,
            ..LinkModel::default()
        }
    }
}

/// A cut between two groups of nodes. Symmetric partitions drop traffic
/// both ways; one-way partitions drop only `from -> to`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Partition {
    /// Senders whose traffic is cut.
    pub from: Vec<u32>,
    /// Receivers that no longer hear them.
    pub to: Vec<u32>,
    /// Also cut `to -> from`.
    pub symmetric: bool,
}

/// What happens to one datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    /// Dropped by a partition.
    Partitioned,
    /// Lost on the link.
    Lost,
    /// Arrives after the given delay(s), in microseconds: one or two copies.
    Delivered(u64, Option<u64>),
}

/// Every link of the simulated network and its partitions.
#[derive(Clone, Debug)]
pub struct Network {
    default: LinkModel,
    links: BTreeMap<(u32, u32), LinkModel>,
    /// Active partitions by id; the sets hold sorted node lists.
    partitions: BTreeMap<u32, Partition>,
    /// When each sender's egress queue drains (bandwidth model).
    egress_free: Vec<u64>,
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

fn uniform(rng: &mut impl Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

impl Network {
    /// A network of `nodes` nodes whose every link is `default`.
    pub fn new(nodes: usize, default: LinkModel) -> Self {
        Network {
            default,
            links: BTreeMap::new(),
            partitions: BTreeMap::new(),
            egress_free: vec![0; nodes],
        }
    }

    /// Replaces the model of every link without an override.
    pub fn set_default(&mut self, link: LinkModel) {
        self.default = link;
    }

    /// Overrides the directed link `from -> to`.
    pub fn set_link(&mut self, from: u32, to: u32, link: LinkModel) {
        self.links.insert((from, to), link);
    }

    /// Removes every per-link override.
    pub fn clear_links(&mut self) {
        self.links.clear();
    }

    /// Adds (or replaces) partition `id`.
    pub fn partition(&mut self, id: u32, mut p: Partition) {
        p.from.sort_unstable();
        p.to.sort_unstable();
        self.partitions.insert(id, p);
    }

    /// Removes partition `id`.
    pub fn heal(&mut self, id: u32) {
        self.partitions.remove(&id);
    }

    /// Removes every partition.
    pub fn heal_all(&mut self) {
        self.partitions.clear();
    }

    /// True if a partition drops traffic from `from` to `to`.
    pub fn is_cut(&self, from: u32, to: u32) -> bool {
        self.partitions.values().any(|p| {
            let fwd = p.from.binary_search(&from).is_ok() && p.to.binary_search(&to).is_ok();
            let back = p.symmetric
                && p.to.binary_search(&from).is_ok()
                && p.from.binary_search(&to).is_ok();
            fwd || back
        })
    }

    /// Shortest delay any datagram can have (µs): the lowest latency of
    /// the default link and of every override, at least 1 µs.
    pub fn min_latency(&self) -> u64 {
        self.links
            .values()
            .chain(std::iter::once(&self.default))
            .map(|l| micros(l.latency))
            .min()
            .unwrap_or(0)
            .max(1)
    }

    /// The model of the directed link `from -> to`.
    pub fn link(&self, from: u32, to: u32) -> &LinkModel {
        self.links.get(&(from, to)).unwrap_or(&self.default)
    }

    /// Decides the fate of a datagram of `len` bytes sent at `now`.
    pub fn route(&mut self, now: u64, from: u32, to: u32, len: usize, rng: &mut impl Rng) -> Fate {
        if self.is_cut(from, to) {
            return Fate::Partitioned;
        }
        let link = self.links.get(&(from, to)).unwrap_or(&self.default).clone();
        let mut queued = 0;
        if let Some(bw) = link.bandwidth.filter(|b| *b > 0) {
            if let Some(free) = self.egress_free.get_mut(from as usize) {
                let start = (*free).max(now);
                let done = start + (len as u64 * 1_000_000).div_ceil(bw);
                *free = done;
                queued = done - now;
            }
        }
        if link.loss > 0.0 && uniform(rng) < link.loss {
            return Fate::Lost;
        }
        let delay = |rng: &mut _| {
            let mut d = queued + micros(link.latency);
            let j = micros(link.jitter);
            if j > 0 {
                d += rng_below(rng, j);
            }
            if link.reorder > 0.0 && uniform(rng) < link.reorder {
                d += rng_below(rng, micros(link.reorder_delay).max(1));
            }
            d
        };
        // Nothing arrives in the microsecond it was sent: a zero latency is
        // modelled as 1 µs, so that a datagram always happens after the
        // input that sent it (the simulator's event order relies on it).
        let first = delay(rng).max(1);
        let second =
            (link.duplicate > 0.0 && uniform(rng) < link.duplicate).then(|| delay(rng).max(1));
        Fate::Delivered(first, second)
    }
}

/// A uniform integer in `0..bound` (`bound > 0`).
pub(crate) fn rng_below(rng: &mut impl Rng, bound: u64) -> u64 {
    rng.next_u64() % bound
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::SeedableRng;

    #[test]
    fn partitions_cut_the_right_directions() {
        let mut net = Network::new(4, LinkModel::default());
        net.partition(
            1,
            Partition {
                from: vec![0, 1],
                to: vec![2, 3],
                symmetric: false,
            },
        );
        assert!(net.is_cut(0, 2));
        assert!(!net.is_cut(2, 0));
        net.partition(
            1,
            Partition {
                from: vec![0, 1],
                to: vec![2, 3],
                symmetric: true,
            },
        );
        assert!(net.is_cut(3, 1));
        assert!(!net.is_cut(0, 1));
        net.heal(1);
        assert!(!net.is_cut(0, 2));
    }

    #[test]
    fn loss_rate_is_close_to_the_setting() {
        let mut rng = rand_pcg::Pcg64::seed_from_u64(7);
        let mut net = Network::new(2, LinkModel::with_loss(0.1));
        let lost = (0..100_000)
            .filter(|_| net.route(0, 0, 1, 100, &mut rng) == Fate::Lost)
            .count();
        assert!((9_000..11_000).contains(&lost), "{lost}");
    }

    #[test]
    fn bandwidth_queues_datagrams() {
        let mut rng = rand_pcg::Pcg64::seed_from_u64(1);
        let link = LinkModel {
            jitter: Duration::ZERO,
            bandwidth: Some(1_000_000),
            ..LinkModel::default()
        };
        let mut net = Network::new(2, link);
        // 1000 bytes at 1 MB/s = 1 ms each, on top of 1 ms latency.
        assert_eq!(
            net.route(0, 0, 1, 1000, &mut rng),
            Fate::Delivered(2000, None)
        );
        assert_eq!(
            net.route(0, 0, 1, 1000, &mut rng),
            Fate::Delivered(3000, None)
        );
    }
}
