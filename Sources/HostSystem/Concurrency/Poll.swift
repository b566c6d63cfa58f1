import Glibc

/// Polling, for kernel state that offers nothing to wait on: a sysfs attribute changing, a device node or
/// partition appearing, /proc/self/mountinfo or the loop table letting go of a device, a server's socket
/// starting to accept. Where a real wait exists (a pidfd, an fd becoming readable, a condition variable)
/// use that instead; this is the one place that sleeps in a loop.
package enum Poll {
    /// Calls `done` until it returns true or `seconds` pass; returns whether it did. `done` runs at least
    /// once, and once more at the deadline, so a zero timeout still checks.
    @discardableResult
    package static func until(seconds: Double, interval: Double = 0.01, _ done: () throws -> Bool) rethrows -> Bool {
        let deadline = Monotonic.now + seconds
        while true {
            if try done() { return true }
            let left = deadline - Monotonic.now
            if left <= 0 { return false }
            HostThread.sleep(min(interval, left))
        }
    }

    /// Runs `body` again while it fails with EBUSY, for up to `seconds`; then its last error is thrown. For a
    /// device udev is probing: systemd-udevd opens every new or changed block device (blkid) for a moment.
    package static func whileBusy(seconds: Double, _ body: () throws -> Void) throws {
        var busy: SystemError?
        try until(seconds: seconds, interval: 0.02) {
            do {
                try body()
                busy = nil
                return true
            } catch let error as SystemError where error.errno == EBUSY {
                busy = error
                return false
            }
        }
        if let busy { throw busy }
    }
}
