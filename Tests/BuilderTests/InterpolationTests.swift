import Builder
import Testing

@Suite struct InterpolationTests {
    let context = TemplateContext(userVariables: ["name": "web"], environment: ["HOME": "/root"],
                                  buildName: "b", buildType: "qemu-chroot", startTime: 0)

    @Test func deferredFieldsStayVerbatimUntilKnown() throws {
        let text = "/mnt/{{ .Device }}/{{build_name}}"
        let now = try Interpolation.render(text, context.deferring(["Device"]))
        #expect(now == "/mnt/{{ .Device }}/b")
        #expect(try Interpolation.render(now, context.with(fields: ["Device": "loop3"])) == "/mnt/loop3/b")
    }

    @Test func envOnlyInVariableDefaults() throws {
        #expect(throws: InterpolationError.self) { try Interpolation.render("{{env `HOME`}}", context) }
        var variables = context
        variables.allowsEnvironment = true
        #expect(try Interpolation.render("{{env `HOME`}}", variables) == "/root")
    }

    @Test func errorsSuggestTheNearestName() {
        for (text, suggestion) in [("{{user `nmae`}}", "name"), ("{{timestmp}}", "timestamp"), ("{{.Devce}}", "Device")] {
            do {
                _ = try Interpolation.render(text, context.deferring(["Device"]))
                Issue.record("\(text) rendered")
            } catch {
                #expect("\(error)".contains("did you mean \"\(suggestion)\""), "\(error)")
            }
        }
    }

    @Test func functions() throws {
        #expect(try Interpolation.render("{{timestamp}} {{build_type}} {{upper `x`}} {{isotime \"2006\"}}", context) == "0 qemu-chroot X 1970")
        let uuid = try Interpolation.render("{{uuid}}", context)
        #expect(uuid.count == 36 && uuid.split(separator: "-").count == 5)
        #expect(throws: InterpolationError.self) { try Interpolation.render("{{build_name", context) }
    }
}
