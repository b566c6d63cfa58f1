import Glibc
import NBDCore
import Testing
import TestSupport

@Suite(.serialized) struct ChrootTransferTests {
    @Test(.enabled(if: BusyboxImage.requirements == nil, "\(BusyboxImage.requirements ?? "")"), .timeLimit(.minutes(1)))
    func directoryRoundTripWithExcludesModesAndSymlinks() throws {
        let host = try TemporaryDirectory("qemu-chroot-transfer")
        let source = host.file("src")
        try Command.check("/bin/mkdir", ["-p", "\(source)/a/b", "\(source)/cache"])
        try write("data\n", to: "\(source)/a/b/file")
        try write("noise\n", to: "\(source)/a/skip.log")
        try write("cached\n", to: "\(source)/cache/blob")
        chmod("\(source)/a", 0o750)
        chmod("\(source)/a/b/file", 0o640)
        symlink("/etc/host-secret", "\(source)/a/link")
        let image = try BusyboxImage()
        let out = host.file("out")
        let catted = try inPrivateMountNamespace { () throws -> String in
            let session = try ChrootSession(device: image.device, fstype: "ext4", mountPath: image.mountPath, chrootMounts: [])
            defer { try? session.unmountAll() }
            try session.copyDirectoryIn(host: source + "/", image: "/opt/app", excludes: ["*.log", "cache"])
            try session.copyDirectoryIn(host: source, image: "/srv")
            try session.copyDirectoryOut(image: "/opt/app/", host: out)
            let text = OutputCollector()
            _ = try session.run("cat /opt/app/a/b/file /srv/src/cache/blob; stat -c '%a' /opt/app/a /opt/app/a/b/file",
                                stdout: text.output, stderr: .discard)
            return text.text
        }
        #expect(catted == "data\ncached\n750\n640\n")
        let listing = try Command.check("/usr/bin/find", [out, "-printf", "%P %m %y\\n"]).split(separator: "\n").sorted()
        #expect(listing == [" 755 d", "a 750 d", "a/b 755 d", "a/b/file 640 f", "a/link 777 l"])
        #expect(try DirectoryEntriesProbe.link("\(out)/a/link") == "/etc/host-secret")
    }
}

enum DirectoryEntriesProbe {
    static func link(_ path: String) throws -> String {
        try Command.check("/bin/readlink", [path]).trimmingWhitespace()
    }
}
