#![cfg(not(target_arch = "wasm32"))]
//! The rebase of a syncing device's local log (`hindcast::sync::rebase`), checked
//! against a model: for random shared logs (other devices' batches
//! interleaved with this device's committed ones, in its local order), and
//! random pulls and known outcomes applied step by step, the local log is
//! always the shared log up to the prefix followed by the surviving pending
//! batches in local order.

use hindcast::sync::rebase::{rebase, Known, Outcome, PendingBatch, PulledBatch, Rebased};
use proptest::prelude::*;

/// A scenario: this device's batches (their sizes, and whether the server
/// commits them), and the shared log as the order of batches: `Ok(i)` this
/// device's batch i, `Err(n)` another device's batch of n events.
#[derive(Clone, Debug)]
struct Scenario {
    own: Vec<(u64, bool)>,
    log: Vec<Result<usize, u64>>,
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (
        prop::collection::vec((1u64..4, prop::bool::weighted(0.7)), 0..8),
        prop::collection::vec(1u64..4, 0..8),
        any::<u64>(),
    )
        .prop_map(|(own, others, seed)| {
            // Interleave, keeping each side's order: own committed batches
            // in local order, the others in theirs.
            let mut mine: Vec<usize> = (0..own.len()).filter(|&i| own[i].1).collect();
            mine.reverse();
            let mut theirs = others.clone();
            theirs.reverse();
            let mut log = Vec::new();
            let mut bits = seed;
            while !mine.is_empty() || !theirs.is_empty() {
                let take_mine = theirs.is_empty() || (!mine.is_empty() && bits & 1 == 1);
                bits = bits.rotate_right(1) ^ 0x9e37_79b9;
                if take_mine {
                    log.push(Ok(mine.pop().unwrap()));
                } else {
                    log.push(Err(theirs.pop().unwrap()));
                }
            }
            Scenario { own, log }
        })
}

const OWN: u128 = 1 << 64;
const OTHER: u128 = 2 << 64;

/// The shared log as pulled batches, with global revisions.
fn shared(s: &Scenario) -> Vec<PulledBatch> {
    let mut first = 1;
    let mut out = Vec::new();
    for (k, b) in s.log.iter().enumerate() {
        let (id, len) = match b {
            Ok(i) => (OWN + *i as u128, s.own[*i].0),
            Err(n) => (OTHER + k as u128, *n),
        };
        out.push(PulledBatch { id, first, len });
        first += len;
    }
    out
}

/// The outcome the server gives this device's batch i.
fn outcome(s: &Scenario, log: &[PulledBatch], i: usize) -> Outcome {
    let id = OWN + i as u128;
    match log.iter().find(|b| b.id == id) {
        Some(b) => Outcome::Committed {
            first: b.first,
            last: b.first + b.len - 1,
        },
        None => {
            assert!(!s.own[i].1);
            Outcome::Rejected
        }
    }
}

proptest! {
    #[test]
    fn the_local_log_is_the_shared_prefix_then_the_surviving_pending_batches(
        s in scenario(),
        steps in prop::collection::vec((any::<prop::sample::Index>(), prop::collection::vec(any::<prop::sample::Index>(), 0..4)), 1..5),
    ) {
        let log = shared(&s);
        let mut confirmed = 0u64;
        let mut pulled_to = 0usize; // batches of `log` in the prefix
        let mut pending: Vec<PendingBatch> = s.own.iter().enumerate()
            .map(|(i, (len, _))| PendingBatch { id: OWN + i as u128, len: *len, known: Known::Pending })
            .collect();
        let mut known_outcome: Vec<Option<Outcome>> = vec![None; s.own.len()];
        let mut left: Vec<u128> = Vec::new(); // joined or rejected so far
        for (pull, told) in steps {
            // Pull up to a random batch boundary at or past the prefix.
            let to = pulled_to + pull.index(log.len() - pulled_to + 1);
            let outcomes: Vec<(u128, Outcome)> = if s.own.is_empty() { Vec::new() } else {
                told.iter().map(|t| { let i = t.index(s.own.len()); (OWN + i as u128, outcome(&s, &log, i)) }).collect()
            };
            let Rebased { confirmed: c, joined, rejected, pending: kept } =
                rebase(confirmed, &pending, &log[pulled_to..to], &outcomes).unwrap();
            // The prefix is the shared log up to `to`.
            let expected_c = log[..to].iter().map(|b| b.len).sum::<u64>();
            prop_assert_eq!(c, expected_c);
            // Own batches pulled joined, in the shared log's order.
            let expected_joined: Vec<u128> = log[pulled_to..to].iter().map(|b| b.id)
                .filter(|id| pending.iter().any(|p| p.id == *id)).collect();
            prop_assert_eq!(&joined, &expected_joined);
            for (id, o) in &outcomes {
                known_outcome[(id - OWN) as usize] = Some(*o);
            }
            // Survivors: local order, not in the prefix, not known rejected,
            // numbered from the prefix on, knowing what they were told.
            let in_prefix = |id: u128| log[..to].iter().any(|b| b.id == id);
            let mut next = c + 1;
            let mut expected_kept = Vec::new();
            let mut expected_rejected = Vec::new();
            for (i, (len, _)) in s.own.iter().enumerate() {
                let id = OWN + i as u128;
                if left.contains(&id) || in_prefix(id) { continue; }
                let known = match known_outcome[i] {
                    Some(Outcome::Rejected) => { expected_rejected.push(id); continue; }
                    Some(Outcome::Committed { first, last }) => Known::Committed { first, last },
                    None => Known::Pending,
                };
                expected_kept.push((PendingBatch { id, len: *len, known }, next));
                next += len;
            }
            prop_assert_eq!(&rejected, &expected_rejected);
            prop_assert_eq!(&kept, &expected_kept);
            left.extend(joined.iter().chain(&rejected));
            confirmed = c;
            pulled_to = to;
            pending = kept.into_iter().map(|(p, _)| p).collect();
        }
        // Once everything is pulled and every outcome known, no batch is pending.
        let all: Vec<(u128, Outcome)> = (0..s.own.len()).map(|i| (OWN + i as u128, outcome(&s, &log, i))).collect();
        let end = rebase(confirmed, &pending, &log[pulled_to..], &all).unwrap();
        prop_assert!(end.pending.is_empty());
        prop_assert_eq!(end.confirmed, log.iter().map(|b| b.len).sum::<u64>());
    }
}

#[test]
fn a_pull_that_does_not_follow_the_prefix_changes_nothing() {
    let pending = [PendingBatch {
        id: 7,
        len: 1,
        known: Known::Pending,
    }];
    for (pulled, path) in [
        (
            vec![PulledBatch {
                id: 1,
                first: 3,
                len: 1,
            }],
            "pulled[0]",
        ),
        (
            vec![
                PulledBatch {
                    id: 1,
                    first: 2,
                    len: 2,
                },
                PulledBatch {
                    id: 2,
                    first: 5,
                    len: 1,
                },
            ],
            "pulled[1]",
        ),
        (
            vec![PulledBatch {
                id: 1,
                first: 2,
                len: 0,
            }],
            "pulled[0]",
        ),
    ] {
        match rebase(1, &pending, &pulled, &[]) {
            Err(hindcast::Error::InvalidInput { path: p, .. }) => assert_eq!(p, path),
            other => panic!("expected invalid input at {path}, got {other:?}"),
        }
    }
}

#[test]
fn a_committed_batch_waits_in_the_pending_part_until_the_prefix_reaches_it() {
    // Shared log: another device's batch at 11, ours (2 events) at 12–13.
    let ours = PendingBatch {
        id: 9,
        len: 2,
        known: Known::Pending,
    };
    let later = PendingBatch {
        id: 10,
        len: 1,
        known: Known::Pending,
    };
    let told = rebase(
        10,
        &[ours, later],
        &[],
        &[(
            9,
            Outcome::Committed {
                first: 12,
                last: 13,
            },
        )],
    )
    .unwrap();
    assert_eq!(told.confirmed, 10);
    assert_eq!(
        told.pending,
        vec![
            (
                PendingBatch {
                    known: Known::Committed {
                        first: 12,
                        last: 13
                    },
                    ..ours
                },
                11
            ),
            (later, 13)
        ]
    );
    let pulled = [
        PulledBatch {
            id: 5,
            first: 11,
            len: 1,
        },
        PulledBatch {
            id: 9,
            first: 12,
            len: 2,
        },
    ];
    let after = rebase(10, &[told.pending[0].0, later], &pulled, &[]).unwrap();
    assert_eq!(after.confirmed, 13);
    assert_eq!(after.joined, vec![9]);
    assert_eq!(after.pending, vec![(later, 14)]);
}
