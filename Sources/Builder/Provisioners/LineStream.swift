/// Turns streamed output chunks into whole lines for the build log; the last partial line is flushed
/// when the command ends.
final class LineStream {
    private var pending: [UInt8] = []
    private let emit: (String) -> Void

    init(_ emit: @escaping (String) -> Void) { self.emit = emit }

    func feed(_ chunk: ArraySlice<UInt8>) {
        pending.append(contentsOf: chunk)
        while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
            emit(String(decoding: pending[..<newline], as: UTF8.self))
            pending.removeSubrange(...newline)
        }
        // A line longer than this is shown in pieces rather than held without bound.
        if pending.count > 1 << 16 { flush() }
    }

    func flush() {
        if !pending.isEmpty { emit(String(decoding: pending, as: UTF8.self)) }
        pending = []
    }
}
