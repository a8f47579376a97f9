import Testing

/// Tests that run the real supervisor with real worker processes. Serialized: they count this process's
/// fds and children, which other process-spawning tests running alongside would disturb.
@Suite("Supervisor with real processes", .serialized, .timeLimit(.minutes(3)))
struct SupervisorIntegrationTests {}
