//! A bounded pool of worker threads over independent jobs. Each job's result lands at its
//! own index, so the output does not depend on which worker ran what or in which order.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Runs `f` on every item with at most `jobs` threads (at least one) and returns the results
/// in the order of `items`. Every job runs even if another fails; the first error by index is
/// returned.
pub fn map<T: Sync, R: Send>(
    items: &[T],
    jobs: usize,
    f: impl Fn(usize, &T) -> anyhow::Result<R> + Sync,
) -> anyhow::Result<Vec<R>> {
    let next = AtomicUsize::new(0);
    let slots: Mutex<Vec<Option<anyhow::Result<R>>>> =
        Mutex::new((0..items.len()).map(|_| None).collect());
    let workers = jobs.clamp(1, items.len().max(1));
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(i) else { break };
                let r = f(i, item);
                slots.lock().expect("no worker panicked holding the lock")[i] = Some(r);
            });
        }
    });
    slots
        .into_inner()
        .expect("no worker panicked holding the lock")
        .into_iter()
        .map(|r| r.expect("every index was taken by a worker"))
        .collect()
}

/// The default number of workers: the cores the process may use.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A job whose duration depends on its index, so that workers finish out of order.
    fn job(i: usize, x: &u64) -> anyhow::Result<u64> {
        std::thread::sleep(std::time::Duration::from_millis(((i * 7) % 5) as u64));
        Ok(x.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(17))
    }

    #[test]
    fn results_are_in_item_order_for_any_number_of_workers() {
        let items: Vec<u64> = (0..23).collect();
        let serial = map(&items, 1, job).unwrap();
        for jobs in [2, 3, 8, 64] {
            assert_eq!(map(&items, jobs, job).unwrap(), serial, "jobs {jobs}");
        }
        assert_eq!(serial[5], job(0, &5).unwrap());
    }

    #[test]
    fn the_first_error_by_index_is_returned_after_all_jobs_ran() {
        let ran = AtomicUsize::new(0);
        let items: Vec<usize> = (0..10).collect();
        let err = map(&items, 3, |_, &x| {
            ran.fetch_add(1, Ordering::Relaxed);
            if x == 4 || x == 7 {
                anyhow::bail!("job {x} failed")
            }
            Ok(x)
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "job 4 failed");
        assert_eq!(ran.load(Ordering::Relaxed), 10);
        assert!(map(&Vec::<u8>::new(), 4, |_, &x| Ok(x)).unwrap().is_empty());
    }
}
