import Glibc

/// The peer of a control connection, from SO_PEERCRED (layout of `struct ucred`).
struct PeerCredentials: Sendable, Equatable {
    var pid: Int32
    var uid: UInt32
    var gid: UInt32
}

/// Who may use the control channel: root, clusterd's own uid, or members of `cluster.control_group`.
struct ControlAccess: Sendable {
    let ownUID: UInt32
    let groupName: String?
    let groupID: UInt32?

    init(groupName: String?) {
        ownUID = geteuid()
        self.groupName = groupName
        groupID = groupName.flatMap(Self.groupID(named:))
    }

    /// nil when allowed; otherwise why not, in words for the refused client.
    func refusal(for peer: PeerCredentials) -> String? {
        if peer.uid == 0 || peer.uid == ownUID { return nil }
        if let groupID, peer.gid == groupID || Self.groups(ofUser: peer.uid).contains(groupID) { return nil }
        let group = groupName.map { ", or members of group \($0)" } ?? " (set cluster.control_group to admit a group)"
        return "uid \(peer.uid) may not use clusterd's control channel: only root, uid \(ownUID)\(group)"
    }

    static func groupID(named name: String) -> UInt32? {
        var group = group()
        var buffer = [CChar](repeating: 0, count: 16384)
        var result: UnsafeMutablePointer<group>?
        guard getgrnam_r(name, &group, &buffer, buffer.count, &result) == 0, result != nil else { return nil }
        return group.gr_gid
    }

    /// The user's groups from the group database (primary and supplementary).
    static func groups(ofUser uid: UInt32) -> [UInt32] {
        var user = passwd()
        var buffer = [CChar](repeating: 0, count: 16384)
        var result: UnsafeMutablePointer<passwd>?
        guard getpwuid_r(uid, &user, &buffer, buffer.count, &result) == 0, result != nil, let name = user.pw_name else {
            return []
        }
        var count: Int32 = 256
        var groups = [gid_t](repeating: 0, count: Int(count))
        if getgrouplist(name, user.pw_gid, &groups, &count) < 0 {
            groups = [gid_t](repeating: 0, count: Int(count))
            guard getgrouplist(name, user.pw_gid, &groups, &count) >= 0 else { return [user.pw_gid] }
        }
        return Array(groups.prefix(Int(count)))
    }
}
