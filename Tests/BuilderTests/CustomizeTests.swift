@testable import Builder
import Glibc
import NBDCore
import Testing
import TestSupport

/// `qemu-chroot customize` and `sysprep` through the CLI on busybox sample images; every effect is read
/// back from the image written, with a second, read-only attach.
@Suite(.serialized, .enabled(if: CLI.requirements == nil, "\(CLI.requirements ?? "")"), .timeLimit(.minutes(5)))
struct CustomizeTests {
    let work: TemporaryDirectory
    let image: String

    init() throws {
        work = try TemporaryDirectory("customize")
        image = try CLI.sampleImage(in: work.path)
    }

    func customize(_ arguments: [String], command: String = "customize") throws -> CommandResult {
        try CLI.run([command] + arguments, in: work.path)
    }

    func expectSuccess(_ result: CommandResult, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(result.status.isSuccess, "stdout:\n\(result.stdout)\nstderr:\n\(result.stderr)", sourceLocation: sourceLocation)
    }

    func readBack(_ image: String, _ script: String) throws -> [String: String] {
        try CLI.readBack(image, script, in: work.path)
    }

    @Test func fileOperationsWithOutputLeaveTheInputUnchanged() throws {
        let before = try FileDigest.sha256(image)
        try writeFile(work.file("up.txt"), "uploaded\n", mode: 0o640)
        mkdir(work.file("tree"), 0o755)
        try writeFile(work.file("tree/inner.txt"), "inner\n")
        try writeFile(work.file("script.sh"), "#!/bin/sh\necho ran > /script-ran\n", mode: 0o755)
        let output = work.file("out.qcow2")
        let result = try customize([
            "-a", image, "-o", output,
            "--mkdir", "/opt/a", "--write", "/opt/a/f:hello", "--append-line", "/opt/a/f:second",
            "--upload", "\(work.file("up.txt")):/opt/a", "--copy-in", "\(work.file("tree")):/opt",
            "--touch", "/opt/a/t", "--write", "/opt/a/big:xxxx", "--truncate", "/opt/a/big",
            "--chmod", "0600:/opt/a/f", "--link", "/opt/a/f:/opt/a/l1:/opt/a/l2",
            "--write", "/opt/a/m1:moved", "--move", "/opt/a/m1:/opt/a/m2", "--write=/opt/a/gone:x", "--delete", "/opt/a/gone",
            "--run-command", "echo cmd > /opt/a/cmd", "--run-command", "false; echo lenient > /opt/a/lenient",
            "--run", work.file("script.sh"),
            "--hostname", "web1.example.com",
            "--mkdir", "/usr/share/zoneinfo/Europe", "--touch", "/usr/share/zoneinfo/Europe/Berlin", "--timezone", "Europe/Berlin",
        ])
        expectSuccess(result)
        #expect(try FileDigest.sha256(image) == before, "-o must never write the input")
        let values = try readBack(output, """
            echo "f=$(cat /opt/a/f | tr '\\n' '|')"; echo "fmode=$(stat -c %a /opt/a/f)"
            echo "up=$(cat /opt/a/up.txt)"; echo "upmode=$(stat -c %a /opt/a/up.txt)"; echo "inner=$(cat /opt/tree/inner.txt)"
            test -f /opt/a/t && echo touched=yes; echo "big=$(stat -c %s /opt/a/big)"
            echo "l1=$(readlink /opt/a/l1)"; echo "l2=$(readlink /opt/a/l2)"
            test -e /opt/a/m1 || echo "m2=$(cat /opt/a/m2)"; test -e /opt/a/gone || echo deleted=yes
            echo "cmd=$(cat /opt/a/cmd)"; echo "lenient=$(cat /opt/a/lenient)"; echo "script=$(cat /script-ran)"; ls /tmp | grep -q qemu-chroot-run || echo runclean=yes
            echo "hostname=$(cat /etc/hostname)"; echo "hosts=$(grep -c 'web1.example.com' /etc/hosts)"
            echo "localtime=$(readlink /etc/localtime)"
            """)
        #expect(values["f"] == "hello|second|")
        #expect(values["fmode"] == "600")
        #expect(values["up"] == "uploaded")
        #expect(values["upmode"] == "640")
        #expect(values["inner"] == "inner")
        #expect(values["touched"] == "yes")
        #expect(values["big"] == "0")
        #expect(values["l1"] == "/opt/a/f" && values["l2"] == "/opt/a/f")
        #expect(values["m2"] == "moved")
        #expect(values["deleted"] == "yes")
        #expect(values["cmd"] == "cmd")
        #expect(values["lenient"] == "lenient", "--run-command runs as sh -c does, without set -e")
        #expect(values["script"] == "ran")
        #expect(values["runclean"] == "yes")
        #expect(values["hostname"] == "web1.example.com")
        #expect(values["hosts"] == "1")
        #expect(values["localtime"] == "../usr/share/zoneinfo/Europe/Berlin")
        #expect(CLI.leftovers(under: work.path).isEmpty)
    }

    @Test func passwordsAndKeys() throws {
        let password = "s3cret-Pw.\(UInt32.random(in: 0...UInt32.max))"
        let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIQemuChrootTestKey test@host"
        let output = work.file("users.qcow2")
        let result = try customize([
            "-a", image, "-o", output,
            "--write", "/etc/shadow:root:*:19000:0:99999:7:::\nalice:!:19000:0:99999:7:::\n",
            "--append-line", "/etc/passwd:alice:x:1001:1001::/home/alice:/bin/sh", "--mkdir", "/home/alice",
            "--root-password", "password:\(password)", "--password-crypto", "yescrypt",
            "--password", "alice:disabled", "--ssh-inject", "alice:string:\(key)", "--ssh-inject", "alice:string:\(key)",
        ])
        expectSuccess(result)
        #expect(!(result.stdout + result.stderr).contains(password), "the clear-text password must not be logged")
        let values = try readBack(output, """
            echo "root=$(grep ^root: /etc/shadow | cut -d: -f2)"; echo "alice=$(grep ^alice: /etc/shadow | cut -d: -f2)"
            grep -rqs -- '\(password)' /etc || echo cleartext=absent
            echo "ssh=$(stat -c '%a %u %g' /home/alice/.ssh)"; echo "keys=$(stat -c '%a %u %g' /home/alice/.ssh/authorized_keys)"
            echo "keycount=$(grep -c 'test@host' /home/alice/.ssh/authorized_keys)"
            """)
        let hash = try #require(values["root"])
        #expect(hash.hasPrefix("$y$"), "yescrypt hash expected, got \(hash)")
        #expect(PasswordHash.verify(password, against: hash), "the stored hash must verify the password")
        #expect(!PasswordHash.verify(password + "x", against: hash))
        #expect(values["alice"] == "*")
        #expect(values["cleartext"] == "absent")
        #expect(values["ssh"] == "700 1001 1001")
        #expect(values["keys"] == "600 1001 1001")
        #expect(values["keycount"] == "1", "injecting the same key twice adds it once")
    }

    @Test func commandsFromFileAndARandomPassword() throws {
        try writeFile(work.file("ops"), """
            # one operation per line, as virt-customize reads them
            write /etc/shadow:root:*:19000:0:99999:7:::

            root-password random
            run-command echo continued \\
              line > /from-file
            """)
        let output = work.file("fromfile.qcow2")
        let result = try customize(["-a", image, "-o", output, "--json", "--commands-from-file", work.file("ops")])
        expectSuccess(result)
        let password = try #require(result.stdout.split(separator: "\n").first { $0.contains(#""password": "#) }
            .map { String($0.split(separator: "\"")[3]) })
        #expect(password.count == 16)
        #expect(!result.stderr.contains(password), "a random password is shown in the result only")
        let values = try readBack(output, #"echo "root=$(grep ^root: /etc/shadow | cut -d: -f2)"; echo "file=$(cat /from-file)""#)
        #expect(PasswordHash.verify(password, against: values["root"] ?? ""))
        #expect(values["root"]?.hasPrefix("$6$") == true, "SHA-512 by default")
        #expect(values["file"] == "continued line")
    }

    @Test func firstbootWithSystemdIsAnEnabledUnitAndRcLocalWithout() throws {
        try writeFile(work.file("boot.sh"), "#!/bin/sh\necho booted\n", mode: 0o755)
        let systemd = work.file("systemd.qcow2"), plain = work.file("plain.qcow2")
        expectSuccess(try customize(["-a", image, "-o", systemd, "--mkdir", "/lib/systemd", "--touch", "/lib/systemd/systemd",
                                     "--firstboot", work.file("boot.sh"), "--firstboot-command", "echo second"]))
        let unit = try readBack(systemd, """
            echo "wants=$(readlink /etc/systemd/system/multi-user.target.wants/qemu-chroot-firstboot.service)"
            echo "exec=$(grep ^ExecStart= /etc/systemd/system/qemu-chroot-firstboot.service)"
            echo "scripts=$(ls /usr/lib/qemu-chroot/firstboot/scripts | tr '\\n' ' ')"
            test -x /usr/lib/qemu-chroot/firstboot/firstboot.sh && echo runner=yes
            """)
        #expect(unit["wants"] == "/etc/systemd/system/qemu-chroot-firstboot.service")
        #expect(unit["exec"] == "ExecStart=/usr/lib/qemu-chroot/firstboot/firstboot.sh")
        #expect(unit["scripts"] == "0001-boot-sh 0002-echo-second ")
        #expect(unit["runner"] == "yes")
        expectSuccess(try customize(["-a", image, "-o", plain, "--firstboot-command", "echo once"]))
        let rc = try readBack(plain, """
            echo "rclocal=$(grep -c /usr/lib/qemu-chroot/firstboot/firstboot.sh /etc/rc.local)"; echo "rcmode=$(stat -c %a /etc/rc.local)"
            test -e /etc/systemd/system/qemu-chroot-firstboot.service || echo unit=absent
            """)
        #expect(rc["rclocal"] == "1")
        #expect(rc["rcmode"] == "755")
        #expect(rc["unit"] == "absent")
    }

    @Test func selinuxRelabelMarksTheImageOnlyWhenItHasSELinux() throws {
        let without = work.file("noselinux.qcow2"), with = work.file("selinux.qcow2")
        let plain = try customize(["-a", image, "-o", without, "--selinux-relabel"])
        expectSuccess(plain)
        #expect(plain.stdout.contains("nothing to relabel"))
        // The busybox image has no setfiles: the relabel is left to the first boot.
        expectSuccess(try customize(["-a", image, "-o", with, "--write", "/etc/selinux/config:SELINUX=enforcing\nSELINUXTYPE=targeted\n",
                                     "--selinux-relabel"]))
        let check = #"test -e /.autorelabel && echo autorelabel=yes || echo autorelabel=no"#
        #expect(try readBack(without, check)["autorelabel"] == "no")
        #expect(try readBack(with, check)["autorelabel"] == "yes")
    }

    @Test func inPlaceOnQcow2AndRaw() throws {
        for format in ["qcow2", "raw"] {
            let copy = try CLI.sampleImage(in: work.path, name: "inplace.\(format)", extra: ["--format", format])
            let before = try FileDigest.sha256(copy)
            let result = try customize(["-a", copy, "--json", "--write", "/etc/motd:changed in place\n"])
            expectSuccess(result)
            #expect(result.stdout.contains(#""in_place": true"#))
            #expect(result.stdout.contains(#""succeeded": true"#))
            #expect(try FileDigest.sha256(copy) != before)
            #expect(try readBack(copy, #"echo "motd=$(cat /etc/motd)""#)["motd"] == "changed in place")
        }
        #expect(CLI.leftovers(under: work.path).isEmpty)
    }

    @Test func aFailingOperationLeavesNoOutput() throws {
        let output = work.file("failed.qcow2")
        let result = try customize(["-a", image, "-o", output, "--run-command", "exit 7", "--touch", "/never"])
        #expect(!result.status.isSuccess)
        #expect(result.stdout.contains("--run-command exit 7"))
        #expect(!HostPath.exists(output), "the output is complete or absent")
        #expect(try FileTree.entries(work.path).allSatisfy { !$0.hasPrefix(".qemu-chroot-work") })
        #expect(CLI.leftovers(under: work.path).isEmpty)
    }

    @Test func sysprepDefaultsAndSelection() throws {
        let planted = work.file("planted.qcow2")
        expectSuccess(try customize(["-a", image, "-o", planted,
            "--write", "/etc/machine-id:0123456789abcdef0123456789abcdef\n", "--mkdir", "/etc/ssh",
            "--touch", "/etc/ssh/ssh_host_ed25519_key", "--touch", "/etc/ssh/sshd_config", "--mkdir", "/var/log/apt",
            "--write", "/var/log/apt/history.log:x", "--write", "/root/.bash_history:ls", "--touch", "/tmp/junk",
            "--mkdir", "/etc/udev/rules.d", "--touch", "/etc/udev/rules.d/70-persistent-net.rules",
            "--mkdir", "/var/cache/apt/archives", "--touch", "/var/cache/apt/archives/x.deb",
            "--mkdir", "/root/.ssh", "--touch", "/root/.ssh/authorized_keys"]))
        let clean = work.file("clean.qcow2")
        let result = try customize(["-a", planted, "-o", clean], command: "sysprep")
        expectSuccess(result)
        let check = """
            echo "machineid=$(stat -c %s /etc/machine-id)"; ls /etc/ssh | tr '\\n' ' ' | sed 's/^/ssh=/'; echo
            test -d /var/log/apt && echo logdir=kept; test -e /var/log/apt/history.log || echo log=gone
            test -e /root/.bash_history || echo history=gone; echo "tmp=$(ls -A /tmp | wc -l)"
            test -e /etc/udev/rules.d/70-persistent-net.rules || echo udev=gone
            test -e /var/cache/apt/archives/x.deb || echo cache=gone; test -e /root/.ssh/authorized_keys && echo userssh=kept
            """
        let values = try readBack(clean, check)
        #expect(values["machineid"] == "0")
        #expect(values["ssh"] == "sshd_config ")
        #expect(values["logdir"] == "kept" && values["log"] == "gone")
        #expect(values["history"] == "gone")
        #expect(values["tmp"] == "0")
        #expect(values["udev"] == "gone")
        #expect(values["cache"] == "gone")
        #expect(values["userssh"] == "kept")
        let some = work.file("some.qcow2")
        expectSuccess(try customize(["-a", planted, "-o", some, "--operations", "-logfiles,-tmp-files"], command: "sysprep"))
        let kept = try readBack(some, check)
        #expect(kept["log"] == nil && kept["tmp"] == "1")
        #expect(kept["machineid"] == "0")
        let listed = try customize(["--list-operations"], command: "sysprep")
        expectSuccess(listed)
        #expect(SysprepOperation.allCases.allSatisfy { listed.stdout.contains($0.rawValue) })
    }

    @Test func templateCustomizeProvisioner() throws {
        let template = try CLI.template(in: work.path, image: image,
                                        provisioners: #"[{"type": "customize", "commands": ["write /etc/motd:from a template", "hostname tpl"]}]"#)
        let result = try CLI.run(["build", template], in: work.path)
        expectSuccess(result)
        let values = try readBack(work.file("output-test/packer-test.qcow2"), #"echo "motd=$(cat /etc/motd)"; echo "host=$(cat /etc/hostname)""#)
        #expect(values["motd"] == "from a template")
        #expect(values["host"] == "tpl")
    }
}

/// Arguments are checked before anything is attached: these need neither root nor an image.
struct CustomizeArgumentTests {
    func run(_ arguments: [String]) throws -> CommandResult {
        try Command.run(CLI.binary, arguments, directory: "/")
    }

    @Test(arguments: [
        (["--chmod", "abc:/x"], "--chmod: expected MODE:FILE with an octal MODE"),
        (["--write", "relative:x"], "--write: expected FILE:CONTENT with an absolute path"),
        (["--hostname", "bad_name!"], "--hostname: expected a host name"),
        (["--timezone", "../../etc/passwd"], "--timezone: expected a time zone name"),
        (["--install", "-evil"], "--install: expected PKG[,PKG...]"),
        (["--root-password", "hunter2"], "--root-password: expected password:PW, file:FILE, random or disabled"),
        (["--run-comand", "true"], "did you mean --run-command?"),
        (["--ssh-inject", "root:string:"], "--ssh-inject: expected one public key line"),
        (["--upload", "/nonexistent-file:/x"], "--upload: expected FILE:DEST"),
    ])
    func badArgumentIsOneLineNamingTheFlag(_ arguments: [String], _ expected: String) throws {
        let image = try TemporaryDirectory("customize-args")
        try writeFile(image.file("disk.qcow2"), "not attached\n")
        let result = try run(["customize", "-a", image.file("disk.qcow2")] + arguments)
        #expect(result.status == .exited(1))
        #expect(result.stderr.contains(expected), "stderr: \(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1, "one line: \(result.stderr)")
        #expect(!result.stderr.contains("hunter2"))
    }

    @Test func outputEqualToInputAndSysprepNamesAreRefused() throws {
        let directory = try TemporaryDirectory("customize-args")
        let disk = directory.file("disk.qcow2")
        try writeFile(disk, "x")
        let same = try run(["customize", "-a", disk, "-o", disk, "--touch", "/x"])
        #expect(same.stderr.contains("-o: expected a file other than the input image"))
        let unknown = try run(["sysprep", "-a", disk, "--operations", "machine-id,nonsense"])
        #expect(unknown.stderr.contains("--operations: expected operation names"))
        #expect(unknown.stderr.contains("nonsense"))
    }

    @Test func dryRunPrintsThePlanAndAttachesNothing() throws {
        let directory = try TemporaryDirectory("customize-args")
        let disk = directory.file("disk.qcow2")
        try writeFile(disk, "not an image: a dry run never opens it\n")
        let result = try run(["customize", "-a", disk, "-o", directory.file("out.qcow2"), "--dry-run",
                              "--mkdir", "/opt/x", "--root-password", "password:topsecret", "--install", "curl,vim"])
        #expect(result.status.isSuccess, "\(result.stderr)")
        #expect(result.stdout.contains("[1/3] --mkdir /opt/x"))
        #expect(result.stdout.contains("[3/3] --install curl,vim"))
        #expect(!result.stdout.contains("topsecret"))
        #expect(!HostPath.exists(directory.file("out.qcow2")))
        #expect(try TextFileReader.read(disk) == "not an image: a dry run never opens it\n")
    }
}
