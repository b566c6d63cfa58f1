@testable import ImageLayout
import Testing

/// fstab(5) text → entries, as libmount reads it.
struct FstabParserTests {
    @Test func fieldsEscapesCommentsAndDefaults() {
        let table = FstabParser.parse("""
            # /etc/fstab: static file system information.
              # an indented comment
            UUID=0a1b2c3d-0000-4000-8000-000000000001 / ext4 errors=remount-ro 0 1

            LABEL=My\\040Data\t/srv/my\\040data\txfs\tdefaults,noatime
            /dev/sda2 /boot ext4
            PARTLABEL=x /a\\134b ext4 defaults 1
            """)
        #expect(table.problems.isEmpty)
        #expect(table.entries == [
            FstabEntry(line: 3, spec: "UUID=0a1b2c3d-0000-4000-8000-000000000001", mountPoint: "/", types: ["ext4"],
                       options: ["errors=remount-ro"], dumpFrequency: 0, passNumber: 1),
            FstabEntry(line: 5, spec: "LABEL=My Data", mountPoint: "/srv/my data", types: ["xfs"], options: ["defaults", "noatime"]),
            FstabEntry(line: 6, spec: "/dev/sda2", mountPoint: "/boot", types: ["ext4"], options: []),
            FstabEntry(line: 7, spec: "PARTLABEL=x", mountPoint: "/a\\b", types: ["ext4"], options: ["defaults"], dumpFrequency: 1),
        ])
    }

    @Test func typeListsQuotedOptionsAndStrayBackslashes() {
        let table = FstabParser.parse(#"/dev/vda1 /mnt\x ext4,ext3 context="system_u:object_r:tmp_t:s0:c127,c456",noexec"#)
        let entry = table.entries.first
        #expect(entry?.types == ["ext4", "ext3"])
        #expect(entry?.mountPoint == #"/mnt\x"#)
        #expect(entry?.options == [#"context="system_u:object_r:tmp_t:s0:c127,c456""#, "noexec"])
    }

    @Test func unreadableLinesAreReportedAndSkipped() {
        let table = FstabParser.parse("""
            /dev/sda1 /
            /dev/sda1 / ext4 defaults zero 1
            /dev/sda1 / ext4 defaults 0 1 extra
            /dev/sda3 /home ext4 defaults 0 2
            """)
        #expect(table.entries.map(\.line) == [4])
        #expect(table.problems.map(\.line) == [1, 2, 3])
        #expect(table.problems[0].description == "fstab line 1: has no filesystem type field; the line is ignored")
        #expect(table.problems[1].message.contains("'zero' is not a number"))
    }
}
