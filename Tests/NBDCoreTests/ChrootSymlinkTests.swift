import Glibc
import NBDCore
import Testing
import TestSupport

/// An image whose /etc is a symlink to an absolute host path, and whose /escape climbs out with "..":
/// every copy and mount must land inside the image, and the host directory must stay as it was.
@Suite(.serialized) struct ChrootSymlinkTests {
    @Test(.enabled(if: BusyboxImage.requirements == nil, "\(BusyboxImage.requirements ?? "")"), .timeLimit(.minutes(1)))
    func transfersAndMountsStayInsideTheImage() throws {
        let host = try TemporaryDirectory("qemu-chroot-host-canary")
        let canary = host.file("resolv.conf")
        try write("HOST\n", to: canary)
        let image = try BusyboxImage { seed in
            try Command.check("/bin/rm", ["-rf", "\(seed)/etc"])
            symlink(host.path, "\(seed)/etc")
            symlink("../../../../../../../..\(host.path)", "\(seed)/escape")
            try Command.check("/bin/mkdir", ["-p", "\(seed)\(host.path)"])
            try write("IMAGE\n", to: "\(seed)\(host.path)/resolv.conf")
        }
        let upload = host.file("upload")
        try write("NEW\n", to: upload)
        let downloaded = host.file("downloaded")
        let hostResolv = (try? read("/etc/resolv.conf")) ?? ""
        let (during, afterUndo, afterUpload) = try inPrivateMountNamespace { () throws -> (String, String, String) in
            var mounts = ChrootMount.defaults
            mounts.append(ChrootMount(fstype: "tmpfs", source: "tmpfs", target: "/etc/mnt"))
            mounts.append(ChrootMount(fstype: "bind", source: canary, target: "/etc/bound", options: ["ro"]))
            let session = try ChrootSession(device: image.device, fstype: "ext4", mountPath: image.mountPath,
                                            chrootMounts: mounts)
            defer { try? session.unmountAll() }
            #expect(mountinfo("/proc/thread-self/mountinfo", contains: image.mountPath + host.path + "/mnt"))
            #expect(access(host.file("mnt"), F_OK) != 0, "the mount target was created on the host")
            #expect(access(host.file("bound"), F_OK) != 0, "the file bind target was created on the host")
            #expect(try cat("/etc/bound", in: session) == "HOST\n")

            // copy_files: the host's /etc/resolv.conf to the image's /etc/resolv.conf (= <image>/<host dir>).
            let copied = try session.copyFiles(["/etc/resolv.conf"])
            let during = try cat("/etc/resolv.conf", in: session)
            try copied.undo()
            let afterUndo = try cat("/etc/resolv.conf", in: session)

            try session.copyIn(host: upload, image: "/etc/resolv.conf")
            try session.copyOut(image: "/escape/resolv.conf", host: downloaded)
            return (during, afterUndo, try cat("/etc/resolv.conf", in: session))
        }
        #expect(during == hostResolv)
        #expect(afterUndo == "IMAGE\n", "undo did not restore the image's own file")
        #expect(afterUpload == "NEW\n")
        #expect(try read(canary) == "HOST\n", "the host file was modified")
        #expect(try read(downloaded) == "NEW\n", "download read the host file instead of the image's")
        #expect(try image.read("\(host.path)/resolv.conf") == "NEW\n")
        let entries = try Command.check("/bin/ls", ["-A", host.path]).split(separator: "\n").sorted()
        #expect(entries == ["downloaded", "resolv.conf", "upload"])
    }
}

private func cat(_ path: String, in session: ChrootSession) throws -> String {
    let out = OutputCollector()
    _ = try session.run("cat \(path)", stdout: out.output, stderr: .discard)
    return out.text
}

func write(_ text: String, to path: String) throws {
    let fd = try FileDescriptor.open(path, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o644)
    try fd.writeAll(Array(text.utf8))
    try fd.close()
}

func read(_ path: String) throws -> String {
    String(decoding: try FileDescriptor.open(path, O_RDONLY).read(count: 1 << 20), as: UTF8.self)
}
