@testable import Builder
import Glibc
import NBDCore
import Synchronization
import Testing
import TestSupport

@Suite struct StepRunnerTests {
    final class Recorder: Sendable {
        private let recorded = Mutex<[String]>([])
        var events: [String] { recorded.withLock { $0 } }
        func add(_ event: String) { recorded.withLock { $0.append(event) } }
    }

    final class FakeStep: Step {
        let name: String
        let recorder: Recorder
        let failRun: Bool
        let failCleanup: Bool
        let onRun: () -> Void
        init(_ name: String, _ recorder: Recorder, failRun: Bool = false, failCleanup: Bool = false, onRun: @escaping () -> Void = {}) {
            self.name = name
            self.recorder = recorder
            self.failRun = failRun
            self.failCleanup = failCleanup
            self.onRun = onRun
        }
        func run(_ state: BuildState) throws {
            recorder.add("run \(name)")
            onRun()
            if failRun { throw BuildError("\(name) broke") }
        }
        func cleanup(_ state: BuildState) throws {
            recorder.add("cleanup \(name)")
            if failCleanup { throw BuildError("cleanup \(name) broke") }
        }
    }

    func makeState(_ lines: Recorder, cancellation: Cancellation = Cancellation()) throws -> BuildState {
        let image = try TemporaryDirectory()
        try writeFile(image.file("x.img"), "x")
        let template = try Template.parse(#"{"builders": [{"type": "qemu-chroot", "source_image": "\#(image.file("x.img"))"}]}"#)
        let plan = try BuildPlan.make(template, options: BuildPlan.Options())
        return BuildState(definition: plan.builds[0], runID: "test", force: false, cancellation: cancellation,
                          output: BuildOutput { lines.add($0) })
    }

    @Test func runsInOrderAndCleansUpInReverse() throws {
        let recorder = Recorder(), lines = Recorder()
        let state = try makeState(lines)
        try StepRunner.run([FakeStep("a", recorder), FakeStep("b", recorder)], state: state)
        #expect(recorder.events == ["run a", "run b", "cleanup b", "cleanup a"])
        #expect(state.timings.map(\.step) == ["a", "b"])
        #expect(lines.events.contains { $0.hasPrefix("==> qemu-chroot: a done in ") })
    }

    @Test func aFailureStopsTheRunAndCleansUpTheFailedStepToo() throws {
        let recorder = Recorder()
        let state = try makeState(Recorder())
        let error = #expect(throws: StepFailed.self) {
            try StepRunner.run([FakeStep("a", recorder), FakeStep("b", recorder, failRun: true), FakeStep("c", recorder)], state: state)
        }
        #expect(error?.step == "b")
        #expect(recorder.events == ["run a", "run b", "cleanup b", "cleanup a"])
    }

    @Test func everyCleanupRunsAndTheFirstErrorIsKept() throws {
        let recorder = Recorder()
        let state = try makeState(Recorder())
        let error = #expect(throws: StepFailed.self) {
            try StepRunner.run([FakeStep("a", recorder, failCleanup: true), FakeStep("b", recorder, failRun: true)], state: state)
        }
        #expect(error?.step == "b")
        #expect(recorder.events == ["run a", "run b", "cleanup b", "cleanup a"])
    }

    @Test func cancellationStopsBeforeTheNextStep() throws {
        let recorder = Recorder()
        let cancellation = Cancellation()
        let state = try makeState(Recorder(), cancellation: cancellation)
        let error = #expect(throws: StepFailed.self) {
            try StepRunner.run([FakeStep("a", recorder) { cancellation.cancel("interrupted") }, FakeStep("b", recorder)], state: state)
        }
        #expect(error?.underlying is CancelledError)
        #expect(recorder.events == ["run a", "cleanup a"])
    }

    @Test func machineReadableLinesEscapeCommas() {
        let lines = Recorder()
        BuildOutput(machineReadable: true) { lines.add($0) }.say("a,b\nc", target: "web")
        #expect(lines.events.count == 1)
        #expect(lines.events[0].hasSuffix(",web,ui,say,a%!(PACKER_COMMA)b\\nc\n"))
    }
}

@Suite struct SHA256FileTests {
    @Test func knownAnswersOnFiles() throws {
        let work = try TemporaryDirectory()
        for (content, digest) in [("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
                                  ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")] {
            let path = work.file("kat-\(content.count)")
            let file = try FileDescriptor.open(path, O_WRONLY | O_CREAT, mode: 0o644)
            try file.writeAll(Array(content.utf8))
            try file.close()
            #expect(try FileDigest.sha256(path) == digest)
        }
    }

    @Test(.enabled(if: Host.has("sha256sum"), "needs sha256sum")) func matchesSha256sumOnAFile() throws {
        let work = try TemporaryDirectory()
        let path = work.file("data")
        let file = try FileDescriptor.open(path, O_WRONLY | O_CREAT, mode: 0o644)
        let random = try FileDescriptor.open("/dev/urandom", O_RDONLY)
        for _ in 0..<16 { try file.writeAll(try random.read(count: (1 << 20) + 7)) }
        try random.close()
        try file.close()
        let expected = try Command.check("sha256sum", [path]).split(separator: " ").first.map(String.init)
        #expect(try FileDigest.sha256(path) == expected)
    }
}
