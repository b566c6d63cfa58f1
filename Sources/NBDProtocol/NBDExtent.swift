/// One run of the base:allocation map from BLOCK_STATUS.
public struct NBDExtent: Sendable, Equatable, CustomStringConvertible {
    public struct Flags: OptionSet, Sendable, Hashable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        /// Not allocated: reads as zeroes and takes no space.
        public static let hole = Flags(rawValue: 1 << 0)
        /// Reads as zeroes (allocated or not).
        public static let zero = Flags(rawValue: 1 << 1)
    }

    public var offset: UInt64
    public var length: UInt64
    public var flags: Flags

    public init(offset: UInt64, length: UInt64, flags: Flags) {
        self.offset = offset
        self.length = length
        self.flags = flags
    }

    public var isHole: Bool { flags.contains(.hole) }
    public var isZero: Bool { flags.contains(.zero) }

    public var description: String {
        let kind = isHole ? "hole" : isZero ? "zero" : "data"
        return "\(kind) \(offset)+\(length)"
    }
}
