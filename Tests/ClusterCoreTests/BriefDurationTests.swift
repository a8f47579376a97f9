import ClusterCore
import Testing

@Suite("Durations in clusterctl status")
struct BriefDurationTests {
    @Test(arguments: [
        (-5, "0ms"), (0, "0ms"), (1, "1ms"), (999, "999ms"), (1000, "1s"), (3_999, "3s"), (59_999, "59s"),
        (60_000, "1m"), (252_000, "4m12s"), (3_599_999, "59m59s"), (3_600_000, "1h"), (3_723_000, "1h2m"),
        (86_399_000, "23h59m"), (86_400_000, "1d"), (93_600_000, "1d2h"), (400 * 86_400_000, "400d"),
    ])
    func text(_ milliseconds: Int, _ expected: String) {
        #expect(Duration.milliseconds(milliseconds).formattedBriefly == expected)
    }
}
