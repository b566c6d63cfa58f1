import HostSystem

/// Reads qemu-img's `-p` output, "    (12.34/100%)\r" repeated, and reports each fraction once whole.
public final class QemuImgProgress {
    private var pending: [UInt8] = []
    private let report: (Double) -> Void

    public init(_ report: @escaping (Double) -> Void) { self.report = report }

    public func feed(_ chunk: ArraySlice<UInt8>) {
        for byte in chunk {
            if byte == UInt8(ascii: "\r") || byte == UInt8(ascii: "\n") {
                if let fraction = Self.parse(pending) { report(fraction) }
                pending.removeAll(keepingCapacity: true)
            } else if pending.count < 256 {
                pending.append(byte)
            }
        }
    }

    /// "(45.67/100%)" with any surrounding spaces → 0.4567; nil for anything else.
    static func parse(_ line: [UInt8]) -> Double? {
        let text = String(decoding: line, as: UTF8.self).trimmingWhitespace()
        guard text.hasPrefix("("), text.hasSuffix("/100%)"),
              let percent = Double(text.dropFirst().dropLast("/100%)".count)), (0...100).contains(percent)
        else { return nil }
        return percent / 100
    }
}
