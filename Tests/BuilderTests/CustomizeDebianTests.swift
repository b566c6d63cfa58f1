@testable import Builder
import Glibc
import NBDCore
import Testing
import TestSupport

/// customize's package operations and sysprep on a real Debian (mmdebstrap minbase, cached in the fixture
/// cache): one test, because the first run bootstraps Debian (minutes) and --install downloads.
@Suite(.serialized, .enabled(if: CLI.requirements == nil, "\(CLI.requirements ?? "")"),
       .enabled(if: DebianImageFixture.unavailableReason == nil, "\(DebianImageFixture.unavailableReason ?? "")"))
struct CustomizeDebianTests {
    @Test(.timeLimit(.minutes(20))) func installUpdateAndSysprepOnDebian() throws {
        let work = try TemporaryDirectory("customize-debian")
        let image = try DebianImageFixture.image()
        let before = try FileDigest.sha256(image)
        let output = work.file("debian.qcow2")
        let result = try CLI.run([
            "customize", "-a", image, "-o", output, "--format", "qcow2", "--update", "--install", "hello,less",
            "--uninstall", "less", "--hostname", "deb1", "--root-password", "password:debian-pw",
            "--write", "/etc/machine-id:0123456789abcdef0123456789abcdef\n", "--run-command", "echo lived > /tmp/junk",
        ], in: work.path)
        #expect(result.status.isSuccess, "stdout:\n\(result.stdout)\nstderr:\n\(result.stderr)")
        #expect(try FileDigest.sha256(image) == before, "-o must never write the input")
        let check = """
            echo "hello=$(dpkg-query -W -f='${Status}' hello 2>/dev/null)"; echo "less=$(dpkg-query -W -f='${Status}' less 2>/dev/null)"
            echo "host=$(cat /etc/hostname)"; echo "machineid=$(stat -c %s /etc/machine-id)"; echo "tmp=$(ls -A /tmp | wc -l)"
            echo "aptlog=$(test -e /var/log/apt/history.log && echo present || echo gone)"
            echo "root=$(grep ^root: /etc/shadow | cut -d: -f2)"
            """
        let customized = try CLI.readBack(output, check, in: work.path)
        #expect(customized["hello"] == "install ok installed")
        #expect(customized["less"] != "install ok installed")
        #expect(customized["host"] == "deb1")
        #expect(customized["aptlog"] == "present")
        #expect(PasswordHash.verify("debian-pw", against: customized["root"] ?? ""))
        let clean = work.file("clean.qcow2")
        let sysprep = try CLI.run(["sysprep", "-a", output, "-o", clean], in: work.path)
        #expect(sysprep.status.isSuccess, "stdout:\n\(sysprep.stdout)\nstderr:\n\(sysprep.stderr)")
        let prepared = try CLI.readBack(clean, check, in: work.path)
        #expect(prepared["hello"] == "install ok installed")
        #expect(prepared["machineid"] == "0")
        #expect(prepared["tmp"] == "0")
        #expect(prepared["aptlog"] == "gone")
        #expect(CLI.leftovers(under: work.path).isEmpty)
    }
}
