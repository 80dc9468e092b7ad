//! The receiving side of a symmetric chain, shared by double-ratchet receiving chains and
//! sender keys: the next chain key plus the keys of messages skipped on the way, bounded
//! by [`MAX_SKIPPED_KEYS`] (oldest dropped first) and [`MAX_FORWARD_JUMP`].
//!
//! Looking a key up does not change the chain; the caller verifies and decrypts with it
//! and only then consumes it, so a failed decrypt leaves nothing behind.

use std::collections::VecDeque;

use super::SignalError;
use super::ratchet::ChainKey;

/// Most message keys kept per receiving chain for messages that have not arrived yet.
pub const MAX_SKIPPED_KEYS: usize = 2000;
/// Furthest a message counter may be ahead of its chain (same bound as libsignal-node).
pub const MAX_FORWARD_JUMP: u32 = 2000;

/// A receiving chain key and the seeds of skipped message keys, oldest first.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct ReceivingChain {
    pub chain: ChainKey,
    pub skipped: VecDeque<(u32, [u8; 32])>,
}

/// A message key seed found for a counter, and how to consume it.
pub(crate) struct SeedLookup {
    pub seed: [u8; 32],
    source: Source,
}

enum Source {
    /// A kept skipped key at this position.
    Skipped(usize),
    /// The chain advanced past the keys in `passed` to `next`.
    Advance {
        passed: Vec<(u32, [u8; 32])>,
        next: ChainKey,
    },
}

impl ReceivingChain {
    /// A chain starting at `chain` with nothing skipped.
    pub fn new(chain: ChainKey) -> Self {
        ReceivingChain {
            chain,
            skipped: VecDeque::new(),
        }
    }

    /// The seed for `counter`: a kept skipped key, or the chain advanced to it.
    pub fn lookup(&self, counter: u32) -> Result<SeedLookup, SignalError> {
        if counter < self.chain.index {
            let position = self
                .skipped
                .iter()
                .position(|(i, _)| *i == counter)
                .ok_or(SignalError::DuplicateMessage(counter))?;
            return Ok(SeedLookup {
                seed: self.skipped[position].1,
                source: Source::Skipped(position),
            });
        }
        let jump = counter - self.chain.index;
        if jump > MAX_FORWARD_JUMP {
            return Err(SignalError::TooFarAhead { counter, jump });
        }
        // Only the newest MAX_SKIPPED_KEYS passed keys could be kept anyway.
        let mut passed = Vec::with_capacity((jump as usize).min(MAX_SKIPPED_KEYS));
        let mut chain = self.chain.clone();
        while chain.index < counter {
            let (seed, next) = chain.step();
            passed.push((chain.index, seed));
            chain = next;
        }
        let (seed, next) = chain.step();
        Ok(SeedLookup {
            seed,
            source: Source::Advance { passed, next },
        })
    }

    /// Uses up a key from [`ReceivingChain::lookup`] after the message verified.
    pub fn consume(&mut self, lookup: SeedLookup) {
        match lookup.source {
            Source::Skipped(position) => {
                self.skipped.remove(position);
            }
            Source::Advance { passed, next } => {
                self.keep(passed);
                self.chain = next;
            }
        }
    }

    /// Keeps the keys of counters up to and including `last` (a chain being closed by a
    /// ratchet step). Inclusive because peers differ on whether `previous_counter` is the
    /// last index used or the count of messages sent.
    pub fn fill_through(&mut self, last: u32) -> Result<(), SignalError> {
        if last < self.chain.index {
            return Ok(());
        }
        let jump = last - self.chain.index;
        if jump >= MAX_FORWARD_JUMP {
            return Err(SignalError::TooFarAhead {
                counter: last,
                jump,
            });
        }
        let lookup = self.lookup(last)?;
        let Source::Advance { mut passed, next } = lookup.source else {
            return Ok(());
        };
        passed.push((last, lookup.seed));
        self.keep(passed);
        self.chain = next;
        Ok(())
    }

    fn keep(&mut self, passed: Vec<(u32, [u8; 32])>) {
        let overflow = (self.skipped.len() + passed.len()).saturating_sub(MAX_SKIPPED_KEYS);
        self.skipped.drain(..overflow.min(self.skipped.len()));
        let start = passed.len().saturating_sub(MAX_SKIPPED_KEYS);
        self.skipped.extend(passed.into_iter().skip(start));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain() -> ReceivingChain {
        ReceivingChain::new(ChainKey {
            key: [1; 32],
            index: 0,
        })
    }

    #[test]
    fn lookup_changes_nothing_until_consumed() {
        let c = chain();
        let before = c.clone();
        let l = c.lookup(5).unwrap();
        assert!(c == before);
        let mut c = c;
        c.consume(l);
        assert_eq!(c.chain.index, 6);
        assert_eq!(c.skipped.len(), 5);
    }

    #[test]
    fn skipped_key_is_used_once() {
        let mut c = chain();
        let l = c.lookup(3).unwrap();
        c.consume(l);
        let l = c.lookup(1).unwrap();
        c.consume(l);
        assert!(matches!(c.lookup(1), Err(SignalError::DuplicateMessage(1))));
        assert!(matches!(c.lookup(3), Err(SignalError::DuplicateMessage(3))));
    }

    #[test]
    fn skipped_keys_never_exceed_the_bound() {
        let mut c = chain();
        for target in [1500, 3000, 4999] {
            let l = c.lookup(target).unwrap();
            c.consume(l);
            assert!(c.skipped.len() <= MAX_SKIPPED_KEYS);
        }
        assert_eq!(c.skipped.back().unwrap().0, 4998);
    }

    #[test]
    fn fill_through_keeps_the_last_counter_too() {
        let mut c = chain();
        c.fill_through(2).unwrap();
        assert_eq!(c.chain.index, 3);
        assert_eq!(c.skipped.iter().map(|k| k.0).collect::<Vec<_>>(), [0, 1, 2]);
        assert!(c.fill_through(u32::MAX).is_err());
    }
}
