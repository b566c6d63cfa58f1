import Synchronization

/// Turns streamed output chunks into whole lines for the build log; the last partial line is flushed
/// when the command ends.
final class LineStream: Sendable {
    private let pending = Mutex<[UInt8]>([])
    private let emit: @Sendable (String) -> Void

    init(_ emit: @escaping @Sendable (String) -> Void) { self.emit = emit }

    func feed(_ chunk: ArraySlice<UInt8>) {
        let lines: [String] = pending.withLock { pending in
            pending.append(contentsOf: chunk)
            var lines: [String] = []
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                lines.append(String(decoding: pending[..<newline], as: UTF8.self))
                pending.removeSubrange(...newline)
            }
            // A line longer than this is shown in pieces rather than held without bound.
            if pending.count > 1 << 16 {
                lines.append(String(decoding: pending, as: UTF8.self))
                pending = []
            }
            return lines
        }
        lines.forEach(emit)
    }

    func flush() {
        let rest: [UInt8] = pending.withLock { pending in
            defer { pending = [] }
            return pending
        }
        if !rest.isEmpty { emit(String(decoding: rest, as: UTF8.self)) }
    }
}
