import NBDCore

extension RunLedger {
    /// A run record for `shell` and `inspect`, or nil with a warning: they still run without one, but then
    /// `qemu-chroot cleanup` cannot release what a kill -9 leaves.
    static func startOrWarn() -> RunLedger? {
        do { return try RunLedger() } catch {
            Log.warning("no run record (\(error)); `qemu-chroot cleanup` cannot release this run's leftovers if it is killed")
            return nil
        }
    }
}
