import ClusterControl
import Testing

@Suite("clusterctl scale: TENANT=N arguments")
struct ScaleArgumentTests {
    @Test(
        "valid",
        arguments: [
            ("acme=4", "acme", 4), ("acme=0", "acme", 0), ("beta-2=10", "beta-2", 10), ("acme=007", "acme", 7),
            ("a=1000000", "a", 1_000_000),
        ]
    )
    func valid(_ text: String, _ tenant: String, _ count: Int) throws {
        #expect(try ScaleArgument(parsing: text) == ScaleArgument(tenant: tenant, count: count))
    }

    @Test(
        "invalid, with what is wrong",
        arguments: [
            ("acme", "is not TENANT=N"),
            ("acme4", "is not TENANT=N"),
            ("=4", "tenant name before \"=\" is missing"),
            ("acme=", "worker count after \"=\" is missing"),
            ("acme=-1", "whole number ≥ 0, found \"-1\""),
            ("acme=+1", "whole number ≥ 0, found \"+1\""),
            ("acme=1.5", "whole number ≥ 0, found \"1.5\""),
            ("acme=four", "whole number ≥ 0, found \"four\""),
            ("acme= 4", "whole number ≥ 0"),
            ("acme=4=5", "whole number ≥ 0, found \"4=5\""),
            ("acme=٤", "whole number ≥ 0"),
            ("acme=1000001", "too large"),
            ("acme=99999999999999999999999", "too large"),
            ("ac me=4", "no spaces"),
            ("", "is not TENANT=N"),
        ]
    )
    func invalid(_ text: String, _ fragment: String) {
        #expect {
            try ScaleArgument(parsing: text)
        } throws: { error in
            (error as? ScaleArgument.ParseError)?.description.contains(fragment) == true
        }
    }

    @Test("several at once, in order; none, or a tenant twice, is an error")
    func several() throws {
        #expect(
            try ScaleArgument.parse(["acme=4", "beta=0"])
                == [ScaleArgument(tenant: "acme", count: 4), ScaleArgument(tenant: "beta", count: 0)]
        )
        #expect(throws: ScaleArgument.ParseError(description: "give at least one TENANT=N (e.g. acme=4)")) {
            try ScaleArgument.parse([])
        }
        #expect(throws: ScaleArgument.ParseError(description: "tenant \"acme\" is given more than once")) {
            try ScaleArgument.parse(["acme=1", "beta=2", "acme=3"])
        }
    }
}
