import Glibc
import NBDCore
import Testing
import TestSupport

/// Image files an attacker hands us: FIFOs and other non-files, truncated copies, and qcow2 headers that
/// make qemu read host files (backing files, json: descriptions, external data files).
@Suite(.enabled(if: Host.missing(programs: ["qemu-img"]) == nil, "needs qemu-img"))
struct LayoutHostileImageTests {
    let dir: TemporaryDirectory
    init() throws { dir = try TemporaryDirectory("hostile-image") }

    func qemuImg(_ arguments: [String]) throws { try Command.check("qemu-img", arguments) }

    func refusal(_ path: String, allow: Bool = false) -> String {
        do {
            _ = try BackingChain.read(path, allowOtherFiles: allow)
            return "accepted"
        } catch { return "\(error)" }
    }

    @Test func aFIFOIsRefusedAtOnceInsteadOfBlocking() throws {
        let fifo = dir.file("image.fifo")
        #expect(mkfifo(fifo, 0o600) == 0)
        let started = Monotonic.now
        #expect(throws: LayoutError("\(fifo) is a FIFO (named pipe), not an image file; pass a qcow2 or raw file")) {
            try ImageProbe.probe(path: fifo)
        }
        // Refused without waiting for a writer: an open(2) that blocked would never return here.
        #expect(Monotonic.now - started < 5)
    }

    @Test func directoriesAndCharacterDevicesAreRefused() throws {
        #expect(refusal(dir.path).contains("is a directory, not an image file"))
        #expect(refusal("/dev/null").contains("is a character device, not an image file"))
    }

    @Test func aTruncatedQcow2IsNamedTruncated() throws {
        let image = dir.file("cut.qcow2")
        try qemuImg(["create", "-q", "-f", "qcow2", image, "64M"])
        try Command.check("truncate", ["-s", "4096", image])
        #expect(refusal(image) == "\(image) is truncated: its QCOW2 tables lie past the end of the file (4096 bytes); copy the image again")
    }

    @Test func aHostFileAsBackingFileIsRefusedByDefault() throws {
        let evil = dir.file("evil.qcow2")
        try qemuImg(["create", "-q", "-f", "qcow2", "-u", "-b", "/etc/shadow", "-F", "raw", evil, "1M"])
        let message = refusal(evil)
        #expect(message.hasPrefix("\(evil) names the backing file /etc/shadow: qemu would read that host file into the image"))
        #expect(message.contains("allow_backing_file"))
    }

    @Test func aTwoLevelChainIsRefusedAtItsFirstLevel() throws {
        let middle = dir.file("middle.qcow2"), top = dir.file("top.qcow2")
        try qemuImg(["create", "-q", "-f", "qcow2", "-u", "-b", "/etc/shadow", "-F", "raw", middle, "1M"])
        try qemuImg(["create", "-q", "-f", "qcow2", "-b", middle, "-F", "qcow2", top])
        #expect(refusal(top).hasPrefix("\(top) names the backing file \(middle)"))
        // Opting in follows the chain, so the host file is named before qemu opens anything.
        let chain = try BackingChain.read(top, allowOtherFiles: true)
        #expect(chain.otherFiles == [middle, "/etc/shadow"])
    }

    @Test func aJSONBackingDescriptionIsRefusedEvenWhenAllowed() throws {
        let evil = dir.file("json.qcow2")
        let json = #"json:{"driver":"raw","file":{"driver":"file","filename":"/etc/shadow"}}"#
        try qemuImg(["create", "-q", "-f", "qcow2", "-u", "-b", json, "-F", "raw", evil, "1M"])
        for allow in [false, true] {
            #expect(refusal(evil, allow: allow).contains("names its backing file with a json: description"))
        }
    }

    @Test func aBackingFormatThatDisagreesWithTheFileIsRefused() throws {
        let base = dir.file("base.qcow2"), top = dir.file("top.qcow2")
        try qemuImg(["create", "-q", "-f", "qcow2", base, "1M"])
        try qemuImg(["create", "-q", "-f", "qcow2", "-u", "-b", base, "-F", "raw", top, "1M"])
        #expect(refusal(top, allow: true).contains("says its backing file \(base) is raw, but that file is qcow2"))
    }

    @Test func aChainThatLoopsIsRefused() throws {
        let a = dir.file("a.qcow2"), b = dir.file("b.qcow2")
        try qemuImg(["create", "-q", "-f", "qcow2", "-u", "-b", b, "-F", "qcow2", a, "1M"])
        try qemuImg(["create", "-q", "-f", "qcow2", "-u", "-b", a, "-F", "qcow2", b, "1M"])
        #expect(refusal(a, allow: true).contains("the backing chain loops back to \(a)"))
    }

    @Test func anExternalDataFileIsRefusedByDefault() throws {
        let image = dir.file("data.qcow2"), data = dir.file("data.raw")
        try qemuImg(["create", "-q", "-f", "qcow2", "-o", "data_file=\(data)", image, "1M"])
        #expect(try ImageProbe.probe(path: image).externalDataFile == data)
        #expect(refusal(image).contains("keeps its data in the external file \(data)"))
        #expect(try BackingChain.read(image, allowOtherFiles: true).otherFiles == [data])
    }
}

/// The commands that open a user's image refuse a FIFO in one sentence instead of hanging in open(2).
@Suite(.serialized) struct HostileImageCLITests {
    @Test(.enabled(if: access(LayoutInspectCLITests.cli, X_OK) == 0, "needs the qemu-chroot executable next to the tests"),
          .timeLimit(.minutes(1)))
    func inspectAndShellRefuseAFIFO() throws {
        let dir = try TemporaryDirectory("hostile-cli")
        let fifo = dir.file("image.qcow2")
        #expect(mkfifo(fifo, 0o600) == 0)
        for arguments in [["inspect", fifo], ["shell", fifo, "--", "true"]] {
            let result = try Command.run(LayoutInspectCLITests.cli, arguments)
            #expect(result.status == .exited(1), "\(arguments): \(result.stderr)")
            #expect(result.stderr.contains("is a FIFO (named pipe), not an image file"), "\(arguments): \(result.stderr)")
        }
    }
}
