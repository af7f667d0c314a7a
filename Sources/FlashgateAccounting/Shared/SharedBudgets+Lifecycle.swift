import FlashgateCore
import Foundation

/// Start, heartbeat and stop of shared budgets. At start a host reconciles: it tells Redis its
/// settled spend per current budget period from its own ledger and that it holds no lease, which
/// releases whatever a crash of this host had left burned. Every third of `lease_ttl` it renews
/// its leases and refreshes the cluster view; an unreachable Redis is retried on the same beat,
/// after the client's backoff.
extension SharedBudgets {
    /// Reconciles the current periods of `statuses` (this host's budgets) and starts the heartbeat.
    package func start(statuses: [BudgetStatus]) -> Task<Void, Never> {
        let lines = statuses.map {
            LeaseLine(key: $0.key, name: $0.name, limit: $0.limit, hard: $0.mode == .hard, periodEnd: $0.periodEnd)
        }
        client.onQueue { [self] session in reconcile(lines, session: session) }
        let interval = config.leaseTTL / 3
        return Task { [weak self] in
            while !Task.isCancelled {
                guard let clock = self?.clock else { return }
                do { try await clock.sleep(for: interval) } catch { return }
                self?.heartbeat()
            }
        }
    }

    /// Renews every lease this host holds and reads the cluster view, in one script call.
    package func heartbeat() {
        client.onQueue { [self] session in heartbeat(session: session) }
    }

    /// Waits until what is queued for Redis has run, then closes the connection.
    package func close() { client.close() }

    /// Waits until what is queued for Redis so far has run.
    package func drain() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            client.onQueue { _ in continuation.resume() }
        }
    }
}
