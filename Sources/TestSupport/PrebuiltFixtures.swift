import Testing

/// Builds the image fixtures a suite (or a test function) needs before its first test case starts, so the
/// build never counts against a case's `.timeLimit`.
///
/// Why a scope: on a cold cache (a fresh clone, every CI run) making the images takes minutes on a loaded
/// 2-core machine, and when the first test case made them it could hit its limit before it tested anything.
/// Swift Testing runs the scope of a suite or function once, around all of its cases, and enforces time
/// limits per case inside it. The images land in the on-disk cache (`ImageFixtures`), where the tests' own
/// `ImageFixtures.build` calls then find them. A build failure is an issue recorded on the suite.
public struct PrebuiltFixturesTrait: SuiteTrait, TestTrait, TestScoping {
    public let specs: [ImageSpec]

    public func scopeProvider(for test: Test, testCase: Test.Case?) -> Self? {
        testCase == nil ? self : nil
    }

    public func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        for spec in specs { _ = try ImageFixtures.build(spec) }
        try await function()
    }
}

extension Trait where Self == PrebuiltFixturesTrait {
    /// Builds `specs` into the fixture cache before any test case here runs, outside their time limits.
    public static func prebuiltFixtures(_ specs: [ImageSpec]) -> Self { PrebuiltFixturesTrait(specs: specs) }
}
