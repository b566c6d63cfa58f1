import Builder
import Glibc
import NBDCore
@testable import packer_builder_qemu_chroot
@testable import PackerRPC
import Testing
import TestSupport

/// Drives the plugin binary the way Packer 1.11+ does, written from hashicorp/packer v1.16.0's source (no
/// modern Packer can be installed here): `packer/plugin-getter/plugins.go` ListInstallations (layout, name,
/// `_SHA256SUM`, describe's version and API), `packer/plugin.go` DiscoverMultiPlugin (`protocol_version` v2,
/// default component name, `start builder --protobuf NAME`), `packer/plugin_client.go` (the 4-field
/// handshake line), and packer-plugin-sdk v0.6.10 `rpc/common.go` (ConfigSpec decoded as protobuf).
@Suite(.enabled(if: PackerHarness.pluginBinary != nil, "the packer-plugin-qemu-chroot product was not built next to the tests"),
       .timeLimit(.minutes(1)))
struct ModernPackerConformanceTests {
    /// `packer plugins install --path BIN github.com/qemu-chroot/qemu-chroot`'s layout under a plugin directory.
    static func install(into pluginDirectory: String) throws -> String {
        let folder = pluginDirectory + "/github.com/qemu-chroot/qemu-chroot"
        try Command.check("/bin/mkdir", ["-p", folder])
        let binary = folder + "/packer-plugin-qemu-chroot_v\(PluginLaunch.version)_\(PluginLaunch.apiVersion)_linux_amd64"
        try Command.check("/bin/cp", [PackerHarness.pluginBinary!, binary])
        let sum = try Command.run("/usr/bin/sha256sum", [binary])
        let fd = try FileDescriptor.open(binary + "_SHA256SUM", O_WRONLY | O_CREAT | O_TRUNC, mode: 0o644)
        try fd.writeAll(Array(sum.stdout.prefix(64).utf8))
        try fd.close()
        return binary
    }

    /// What ListInstallations + DiscoverMultiPlugin accept, or why they skip the file (their log lines).
    static func discover(_ pluginDirectory: String) throws -> [(builder: String, binary: String, protobuf: Bool)] {
        let found = try Command.run("/usr/bin/find", [pluginDirectory, "-mindepth", "2", "-type", "f",
                                                      "-name", "packer-plugin-*_linux_amd64"])
        var builders: [(String, String, Bool)] = []
        for path in found.stdout.split(separator: "\n").map(String.init) {
            let name = String(path.split(separator: "/").last!)
            // The checksum file holds only the hex digest of the binary.
            let expected = String(decoding: try FileDescriptor.open(path + "_SHA256SUM", O_RDONLY).read(count: 64), as: UTF8.self)
            let actual = try Command.run("/usr/bin/sha256sum", [path]).stdout.prefix(64)
            guard expected == actual else { throw Refused("\(path): checksum mismatch") }
            // packer-plugin-NAME_vX.Y.Z_x5.0_linux_amd64 → NAME, vX.Y.Z, x5.0
            let trimmed = name.dropFirst("packer-plugin-".count).dropLast("_linux_amd64".count)
            let parts = trimmed.split(separator: "_")
            guard parts.count == 3 else { throw Refused("\(name): not NAME_vVERSION_API") }
            let (pluginName, fileVersion, fileAPI) = (String(parts[0]), String(parts[1]), String(parts[2]))
            // describe runs without Packer's cookie and must exit 0 with the JSON on stdout.
            var environment = ProcessEnvironment.current
            environment.removeValue(forKey: PluginHandshake.cookieKey)
            let describe = try Command.run(path, ["describe"], environment: environment)
            guard describe.status == .exited(0) else { throw Refused("describe failed: \(describe.stderr)") }
            let description = try JSONParser.parse(describe.stdout)
            guard case .string(let version)? = description["version"], "v" + version == fileVersion else {
                throw Refused("reported version \(String(describing: description["version"])) while the name implies \(fileVersion)")
            }
            guard version.split(separator: "-").count == 1, !version.contains("+") else { throw Refused("pre-release or metadata in \(version)") }
            guard description["api_version"] == .string(fileAPI), fileAPI == "x5.0" else { throw Refused("API \(fileAPI) is not x5.0") }
            let protobuf = description["protocol_version"] == .string("v2")
            guard case .array(let names)? = description["builders"] else { throw Refused("no builders") }
            for case .string(let builder) in names {
                builders.append((builder == "-packer-default-plugin-name-" ? pluginName : "\(pluginName)-\(builder)", path, protobuf))
            }
        }
        return builders.map { (builder: $0.0, binary: $0.1, protobuf: $0.2) }
    }

    struct Refused: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    @Test func installedLayoutIsDiscoveredAsTheQemuChrootBuilder() throws {
        let directory = try TemporaryDirectory("packer-plugins")
        let binary = try Self.install(into: directory.path)
        let builders = try Self.discover(directory.path)
        #expect(builders.count == 1)
        #expect(builders.first?.builder == "qemu-chroot")
        #expect(builders.first?.binary == binary)
        #expect(builders.first?.protobuf == true)
    }

    @Test func aWrongChecksumOrVersionIsRefused() throws {
        let directory = try TemporaryDirectory("packer-plugins")
        let binary = try Self.install(into: directory.path)
        let folder = String(binary[..<binary.lastIndex(of: "/")!])
        let renamed = folder + "/packer-plugin-qemu-chroot_v9.9.9_\(PluginLaunch.apiVersion)_linux_amd64"
        #expect(rename(binary, renamed) == 0 && rename(binary + "_SHA256SUM", renamed + "_SHA256SUM") == 0)
        #expect(throws: Refused.self) { try Self.discover(directory.path) }
        #expect(rename(renamed, binary) == 0 && rename(renamed + "_SHA256SUM", binary + "_SHA256SUM") == 0)
        let fd = try FileDescriptor.open(binary + "_SHA256SUM", O_WRONLY | O_TRUNC)
        try fd.writeAll(Array(String(repeating: "0", count: 64).utf8))
        try fd.close()
        #expect(throws: Refused.self) { try Self.discover(directory.path) }
    }

    @Test func startBuilderWithProtobufServesTheSpecAsProtobuf() throws {
        let directory = try TemporaryDirectory("packer-plugins")
        let binary = try Self.install(into: directory.path)
        let plugin = try ModernPlugin(binary, ["start", "builder", "--protobuf", PluginLaunch.defaultComponent], directory: directory)
        defer { plugin.stop() }
        let reply = try plugin.builder.call("Builder.ConfigSpec")
        guard case .binary(let bytes)? = reply["ConfigSpec"] else { Issue.record("no ConfigSpec bytes: \(reply)"); return }
        let attributes = try ProtobufSpecReader.objectSpec(bytes)
        #expect(attributes.count == QemuChrootSpec.spec.attributes.count)
        for attribute in QemuChrootSpec.spec.attributes { #expect(attributes[attribute.name] == attribute) }
        // HCL2's Prepare payload is unchanged in protobuf mode: cty-JSON bytes after Packer's values.
        let image = directory.file("source.raw")
        try Command.check("/usr/bin/truncate", ["-s", "1M", image])
        let hcl = #"{"value":{"source_image":"\#(image)","disk_size":null},"type":["object",{"source_image":"string","disk_size":"string"}]}"#
        let prepared = try plugin.builder.call("Builder.Prepare", .object(["Configs": .array([
            .object(["packer_build_name": "x", "packer_builder_type": "qemu-chroot"]), .binary(Array(hcl.utf8)),
        ])]))
        #expect(prepared["Error"] == .nil, "\(prepared)")
    }

    @Test func startBuilderWithoutProtobufKeepsGob() throws {
        let directory = try TemporaryDirectory("packer-plugins")
        let binary = try Self.install(into: directory.path)
        let plugin = try ModernPlugin(binary, ["start", "builder", PluginLaunch.defaultComponent], directory: directory)
        defer { plugin.stop() }
        #expect(try plugin.builder.call("Builder.ConfigSpec")["ConfigSpec"] == .binary(QemuChrootSpec.spec.gob()))
    }
}

/// One plugin process started as Packer 1.7+ starts it, connected over its handshake line.
private final class ModernPlugin {
    let process: ChildProcess
    let session: YamuxSession
    let builder: RPCClient

    init(_ binary: String, _ arguments: [String], directory: TemporaryDirectory) throws {
        let stdoutPath = directory.file("stdout")
        let stdout = try FileDescriptor.open(stdoutPath, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o600)
        var environment = ProcessEnvironment.current
        environment[PluginHandshake.cookieKey] = PluginHandshake.cookieValue
        environment["PACKER_PLUGIN_MIN_PORT"] = "10000"
        environment["PACKER_PLUGIN_MAX_PORT"] = "25000"
        var options = SpawnOptions()
        options.stdout = stdout.rawValue
        process = try ChildProcess.spawn(binary, arguments, environment: environment, options: options)
        try stdout.close()
        var line = ""
        Poll.until(seconds: 10, interval: 0.05) {
            line = String(decoding: (try? FileDescriptor.open(stdoutPath, O_RDONLY).read(count: 4096)) ?? [], as: UTF8.self)
            return line.hasSuffix("\n")
        }
        // plugin_client.go: SplitN(line, "|", 4); 3 fields is "protocol version 4 and lower"; major "5", minor ≤ "0".
        let parts = line.split(separator: "\n").first.map(String.init)?.split(separator: "|", maxSplits: 3).map(String.init) ?? []
        guard parts.count == 4, parts[0] == "5", parts[1] <= "0", parts[2] == "unix" else {
            _ = process.terminate(grace: 1)
            throw ModernPackerConformanceTests.Refused("handshake line \"\(line)\" is not 5|0|unix|PATH")
        }
        do {
            session = YamuxSession(connection: try unixConnection(parts[3]), role: .client)
        } catch {
            _ = process.terminate(grace: 1)
            throw error
        }
        session.start()
        let broker = MuxBroker(session: session)
        broker.start()
        builder = RPCClient(stream: try broker.dial(0))
    }

    /// Packer closes the connection when done; the plugin then exits by itself.
    func stop() {
        builder.close()
        session.close()
        if process.wait(timeout: 10) == nil { _ = process.terminate(grace: 1) }
    }
}

private func unixConnection(_ path: String) throws -> SocketConnection {
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
    let socket = FileDescriptor(adopting: try syscall("socket") { Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0) }, path: path)
    let fd = socket.rawValue
    _ = try withUnsafePointer(to: &address) { pointer in
        try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
            try syscall("connect", path: path) { Glibc.connect(fd, sa, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
    }
    return SocketConnection(socket)
}
