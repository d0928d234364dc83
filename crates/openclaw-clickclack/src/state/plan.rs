//! The share rule: which replica should hold how many accounts. Pure.
//!
//! Live replicas are sorted by id; with `n` accounts and `r` replicas the
//! first `n mod r` replicas hold `⌈n / r⌉` accounts and the rest `⌊n / r⌋`.
//! Every replica computes the same numbers from the same membership, the
//! shares add up to `n`, and no two differ by more than one.

use super::ReplicaId;

/// This replica's share of `accounts` among `live` (which it joins if missing).
pub(crate) fn target_share(me: &ReplicaId, live: &[ReplicaId], accounts: usize) -> usize {
    let mut members: Vec<&ReplicaId> = live.iter().collect();
    if !members.contains(&me) {
        members.push(me);
    }
    members.sort();
    members.dedup();
    let replicas = members.len();
    let index = members.iter().position(|r| *r == me).unwrap_or(0);
    accounts / replicas + usize::from(index < accounts % replicas)
}

/// What one tick should change.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Plan {
    /// How many more accounts to try to acquire.
    pub(crate) acquire: usize,
    /// Accounts to hand back (their runners stop, then the lease is released).
    pub(crate) hand_off: Vec<String>,
}

/// Moves this replica towards `target`: `held` are the accounts it holds and
/// is not already handing off (sorted), `handing_off` how many are on their way out.
pub(crate) fn plan(target: usize, held: &[String], handing_off: usize) -> Plan {
    let total = held.len() + handing_off;
    if total < target {
        return Plan {
            acquire: target - total,
            hand_off: Vec::new(),
        };
    }
    let excess = held.len().saturating_sub(target);
    Plan {
        acquire: 0,
        // The last ones by name: deterministic, and spread across replicas
        // because each holds a different set.
        hand_off: held[held.len() - excess..].to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ids(n: usize) -> Vec<ReplicaId> {
        (0..n).map(|i| ReplicaId::new(format!("r{i:02}"))).collect()
    }

    #[test]
    fn thirty_accounts_split_ten_ten_ten() {
        let live = ids(3);
        let shares: Vec<usize> = live.iter().map(|r| target_share(r, &live, 30)).collect();
        assert_eq!(shares, vec![10, 10, 10]);
        let shares: Vec<usize> = live.iter().map(|r| target_share(r, &live, 31)).collect();
        assert_eq!(shares, vec![11, 10, 10]);
    }

    #[test]
    fn a_replica_missing_from_the_view_counts_itself() {
        let live = ids(2);
        let me = ReplicaId::new("r99");
        assert_eq!(target_share(&me, &live, 30), 10);
    }

    #[test]
    fn plans_acquire_up_to_the_share_and_hand_off_the_excess() {
        let held: Vec<String> = (0..12).map(|i| format!("a{i:02}")).collect();
        assert_eq!(
            plan(10, &held, 0).hand_off,
            vec!["a10".to_owned(), "a11".to_owned()]
        );
        assert_eq!(
            plan(10, &held[..10], 1),
            Plan::default(),
            "the excess one is already leaving"
        );
        assert_eq!(plan(10, &held[..4], 1).acquire, 5);
        assert_eq!(plan(0, &held[..2], 0).hand_off.len(), 2);
    }

    proptest! {
        #[test]
        fn shares_add_up_and_differ_by_at_most_one(replicas in 1usize..12, accounts in 0usize..500) {
            let live = ids(replicas);
            let shares: Vec<usize> = live.iter().map(|r| target_share(r, &live, accounts)).collect();
            prop_assert_eq!(shares.iter().sum::<usize>(), accounts);
            let (min, max) = (shares.iter().min().copied().unwrap_or(0), shares.iter().max().copied().unwrap_or(0));
            prop_assert!(max - min <= 1);
        }

        #[test]
        fn a_plan_never_overshoots(target in 0usize..40, held in 0usize..40, handing in 0usize..5) {
            let names: Vec<String> = (0..held).map(|i| format!("a{i:03}")).collect();
            let p = plan(target, &names, handing);
            prop_assert!(p.acquire == 0 || p.hand_off.is_empty());
            if held + handing <= target {
                prop_assert_eq!(held + handing + p.acquire, target);
            } else {
                prop_assert_eq!(held - p.hand_off.len(), target.min(held));
            }
        }
    }
}
