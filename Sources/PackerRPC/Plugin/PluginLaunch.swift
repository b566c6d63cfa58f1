/// How Packer started this binary, decided from argv alone (Packer sets the same environment either way).
///
/// One binary serves both Packer generations, and they need different handshake lines:
/// - Packer 1.6.x finds `packer-builder-qemu-chroot` and runs it with **no arguments**; it accepts only
///   the 3-field line `5|unix|PATH` (a 4-field line fails with "Unknown address type: 0").
/// - Packer 1.7+ finds `packer-plugin-qemu-chroot`, runs `describe`, then `start builder [--protobuf] NAME`;
///   it accepts only the 4-field line `5|0|unix|PATH` (3 fields are "protocol version 4 and lower").
/// So: no arguments → 1.6 form; `start builder …` → modern form; `describe` → the component list.
/// (1.6.6 also runs `describe` on `packer-plugin-*` files and would start `start builder NAME` expecting 3
/// fields; it registers our builder there as `qemu-chroot--packer-default-plugin-name-`, a name no
/// template uses, so 1.6 users install the `packer-builder-qemu-chroot` name — see docs/packer-plugin.md.)
public enum PluginLaunch: Equatable {
    case legacyBuilder
    /// `protobuf`: Packer 1.12+ passed `--protobuf` (every plugin of the run said protocol_version v2), so
    /// Builder.ConfigSpec answers in protobuf instead of gob.
    case modernBuilder(component: String, protobuf: Bool)
    case describe
    case usage(String)

    public static let pluginName = "qemu-chroot"
    /// The component name modern Packer exposes as the plain plugin name (`qemu-chroot`).
    public static let defaultComponent = "-packer-default-plugin-name-"
    /// The plugin's version: the one place it is written. `describe` reports it, and `make release` reads it
    /// from there into the file names Packer 1.11+ requires to match it (packer-plugin-qemu-chroot_vX.Y.Z_…).
    public static let version = "0.1.0"
    /// Packer's plugin API (`x5.0`): Packer accepts a plugin whose major equals its own and minor is not
    /// above it; every Packer from 1.7 to 1.16 is at 5.0.
    public static let apiVersion = "x5.0"
    /// We are not built with packer-plugin-sdk (Packer ignores this field); say so, and which SDK's wire
    /// protocol this implementation follows.
    public static let sdkVersion = "none (native Swift; speaks the protocol of packer-plugin-sdk 0.6.10)"

    public static func parse(_ arguments: [String]) -> PluginLaunch {
        // Like the SDK's plugin.Set, `--protobuf` counts wherever it appears (Packer puts it after `builder`).
        let protobuf = arguments.dropFirst().contains("--protobuf")
        let rest = Array(arguments.dropFirst()).filter { $0 != "--protobuf" }
        switch rest.first {
        case nil: return .legacyBuilder
        case "describe": return .describe
        case "start":
            guard rest.count == 3, rest[1] == "builder" else {
                return .usage("expected `start builder NAME`; this plugin has only a builder")
            }
            guard rest[2] == defaultComponent || rest[2] == pluginName else {
                return .usage("unknown builder \"\(rest[2])\"; this plugin has one builder, \(pluginName)")
            }
            return .modernBuilder(component: rest[2], protobuf: protobuf)
        case let other?: return .usage("unknown command \"\(other)\"; Packer runs this plugin with `describe` or `start builder NAME`")
        }
    }

    /// `describe`'s JSON (Packer 1.7+; 1.6.6 reads the same keys it knows). protocol_version v2: we serve the
    /// ConfigSpec as protobuf when started with `--protobuf`, so Packer 1.12+ need not fall back to gob for
    /// every plugin of the run because of us.
    public static var describeJSON: String {
        #"{"version":"\#(version)","sdk_version":"\#(sdkVersion)","api_version":"\#(apiVersion)","builders":["\#(defaultComponent)"],"post_processors":[],"provisioners":[],"datasources":[],"protocol_version":"v2"}"#
    }

    /// How Builder.ConfigSpec must be serialised for this launch.
    public var specEncoding: ConfigSpec.Encoding {
        if case .modernBuilder(_, protobuf: true) = self { return .protobuf }
        return .gob
    }

    /// The handshake line for a listener (`network` "unix" or "tcp").
    public func handshakeLine(network: String, address: String) -> String {
        switch self {
        case .modernBuilder: return "5|0|\(network)|\(address)\n"
        default: return "5|\(network)|\(address)\n"
        }
    }
}
