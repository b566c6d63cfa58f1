import Glibc
import NBDCore
import Testing

@Suite struct MountOptionsTests {
    @Test func flagsAndDataAreSplitByTheTable() {
        let options = MountOptions(["ro,noatime", "nosuid", "errors=remount-ro", "mode=0620", "rw", "ro"])
        #expect(options.flags == UInt(MS_RDONLY | MS_NOATIME | MS_NOSUID))
        #expect(options.dataString == "errors=remount-ro,mode=0620")
        #expect(options.readOnly)
    }

    @Test func laterOptionsWin() {
        #expect(!MountOptions(["ro", "rw"]).readOnly)
        #expect(MountOptions(["defaults", ""]).flags == 0)
        #expect(MountOptions(["defaults"]).dataString == nil)
    }

    @Test func bindAndRecursiveBind() {
        #expect(MountOptions(["bind"]).isBind)
        #expect(MountOptions(["rbind"]).flags == UInt(MS_BIND | MS_REC))
    }

    @Test func chrootMountListForm() throws {
        let entry = try ChrootMount(list: ["ext4", "/dev/nbd0p3", "/usr", "ro", "noatime"])
        #expect(entry == ChrootMount(fstype: "ext4", source: "/dev/nbd0p3", target: "/usr", options: ["ro", "noatime"]))
        #expect(try ChrootMount(list: ["bind", "/dev", "/dev"]).mountOptions.isBind)
        let error = #expect(throws: ChrootMountError.self) { try ChrootMount(list: ["proc", "proc"]) }
        #expect(error?.description.contains("[fstype, source, target]") == true)
        #expect(ChrootMount.defaults.map(\.target) == ["/proc", "/sys", "/dev", "/dev/pts", "/proc/sys/fs/binfmt_misc"])
    }

    @Test func sessionRefusesToMountInTheHostNamespace() throws {
        // Only inPrivateMountNamespace's own short-lived threads ever leave the host namespace.
        try #require(!MountNamespace.isPrivate, "the test runner's thread is in a private mount namespace")
        let error = #expect(throws: MountNamespaceError.self) {
            try ChrootSession(device: "/dev/null", fstype: "ext4", mountPath: "/nonexistent/qemu-chroot-test")
        }
        #expect(error?.description.contains("enterPrivate") == true)
    }

    @Test func enterPrivateRefusesAMultiThreadedProcess() throws {
        // Unsharing just one of several threads is what must be refused. A second thread is started here
        // rather than assumed, so the refusal is always tested and the runner never enters a namespace.
        try whileAnotherThreadWaits {
            try #require(MountNamespace.threadCount() > 1)
            let error = #expect(throws: MountNamespaceError.self) { try MountNamespace.enterPrivate() }
            #expect(error?.description.contains("threads") == true)
        }
        #expect(!MountNamespace.isPrivate)
    }
}

/// Runs `body` while a second thread of this process exists, blocked reading a pipe that is closed after.
private func whileAnotherThreadWaits(_ body: () throws -> Void) throws {
    var ends: [Int32] = [-1, -1]
    try syscall("pipe") { pipe(&ends) }
    defer { close(ends[0]) }
    var thread = pthread_t()
    // The read end travels as the thread argument, offset by one so that descriptor 0 is not a null pointer.
    let started = pthread_create(&thread, nil, { argument in
        var byte: UInt8 = 0
        _ = read(Int32(Int(bitPattern: argument) - 1), &byte, 1)
        return nil
    }, UnsafeMutableRawPointer(bitPattern: Int(ends[0]) + 1))
    guard started == 0 else {
        close(ends[1])
        throw SystemError("pthread_create", errno: started)
    }
    defer {
        close(ends[1])
        pthread_join(thread, nil)
    }
    try body()
}

@Suite struct ChrootCommandWrapperTests {
    @Test func shellQuotingRoundTrips() throws {
        let nasty = ["plain", "", "it's", "$HOME", "a b", "\"q\"", "back\\slash", "new\nline", "*"]
        let result = try Command.check("/bin/sh", ["-c", "printf '%s|' " + ShellQuote.join(nasty)])
        #expect(result == nasty.joined(separator: "|") + "|")
    }

    @Test func wrapperRendersAQuotedShellCommand() throws {
        #expect(CommandWrapper.identity.render("echo hi") == "echo hi")
        #expect(try CommandWrapper(" {{ .Command }} ").render("x") == "x")
        let wrapped = try CommandWrapper("sudo -E {{.Command}}").render("echo \"it's\" $X")
        #expect(wrapped == "sudo -E /bin/sh -c 'echo \"it'\\''s\" $X'")
        let output = try Command.check("/bin/sh", ["-c", try CommandWrapper("X=1 {{.Command}}").render("echo \"it's\" $X")])
        #expect(output == "it's 1\n")
    }

    @Test func wrapperRejectsUnknownVariables() {
        #expect(throws: CommandWrapperError.self) { try CommandWrapper("{{.Device}} {{.Command}}") }
        #expect(throws: CommandWrapperError.self) { try CommandWrapper("{{.Command") }
    }
}
