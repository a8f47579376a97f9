import NIOCore

extension ChannelHandlerContext {
    /// Closing after an answer the client may still be sending to: closing with its bytes unread would send a
    /// reset, and the client would see that instead of the answer. So the output is shut (the client reads the
    /// answer, then EOF), and the caller keeps reading and dropping input until the client closes (remote
    /// half-closure is off, so its EOF closes the channel) or `linger` passes. Returns the timer, to cancel
    /// when the channel closes first; nil when it is closed already.
    func shutOutputAndLinger(for linger: TimeAmount) -> Scheduled<Void>? {
        self.close(mode: .output, promise: nil)
        guard self.channel.isActive else { return nil }
        let channel = self.channel
        return self.eventLoop.scheduleTask(in: linger) { channel.close(promise: nil) }
    }
}
