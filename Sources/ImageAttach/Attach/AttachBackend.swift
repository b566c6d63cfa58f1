/// A way of attaching images; the kernel nbd backends plug in through `AttachBackendRegistry`.
public protocol AttachBackend: Sendable {
    var mode: AttachMode { get }
    /// Why this backend cannot attach `request` on this host, or nil if it can.
    func unavailableReason(for request: AttachRequest) -> String?
    func attach(_ request: AttachRequest, ledger: RunLedger?) throws -> AttachedImage
    /// Releases `resource` left by a killed run if it is this backend's kind (the nbd backends disconnect
    /// `.nbd` devices whose backend identifier matches); returns false for other kinds.
    func releaseStale(_ resource: LedgerResource) throws -> Bool
}

extension AttachBackend {
    public func releaseStale(_ resource: LedgerResource) throws -> Bool { false }
}
