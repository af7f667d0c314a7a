// swift-tools-version:6.2
import PackageDescription

let package = Package(
    name: "flashgate",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "flashgate", targets: ["flashgate"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.0.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.0.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CLMDB", pkgConfig: "lmdb", providers: [.apt(["liblmdb-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CHiredis", pkgConfig: "hiredis", providers: [.apt(["libhiredis-dev"])]),
        // glibc's pipe2 and posix_spawn_file_actions_addclosefrom_np, for the tests' child processes,
        // gettid, for the ledger writer's thread priority, and pthread_setname_np, for thread names.
        .systemLibrary(name: "CSpawn"),
        .target(
            name: "FlashgateCore",
            dependencies: [
                "CSpawn",
                .product(name: "Crypto", package: "swift-crypto"), .product(name: "Logging", package: "swift-log"),
            ]),
        .target(name: "FlashgateWire", dependencies: ["FlashgateCore"]),
        .target(
            name: "FlashgateUpstream",
            dependencies: [
                "FlashgateCore", "CCurl",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ]
        ),
        .target(
            name: "FlashgateStorage",
            dependencies: ["FlashgateCore", "CLMDB", "CZlib", "CSpawn", .product(name: "Logging", package: "swift-log")]
        ),
        // The routes and the one retry owner: never NIO, Storage or Server, so the compiler keeps
        // them ignorant of HTTP and of the ledger.
        .target(
            name: "FlashgateRouting",
            dependencies: [
                "FlashgateCore", "FlashgateWire", "FlashgateUpstream", .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Who pays, whether they may, and what they paid: never NIO, Routing or Server, so the
        // compiler keeps accounting ignorant of HTTP and of the routes.
        .target(
            name: "FlashgateAccounting",
            dependencies: [
                "FlashgateCore", "FlashgateWire", "FlashgateStorage", "CHiredis",
                .product(name: "Logging", package: "swift-log"), .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .target(
            name: "FlashgateServer",
            dependencies: [
                "FlashgateCore", "FlashgateWire", "FlashgateUpstream", "FlashgateRouting", "FlashgateStorage",
                "FlashgateAccounting", "CSpawn",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            resources: [.embedInCode("Admin/dashboard.html")]
        ),
        .target(
            name: "FlashgateTesting",
            dependencies: [
                "FlashgateCore", "FlashgateWire", "FlashgateRouting", "FlashgateServer", "FlashgateStorage",
                "FlashgateAccounting",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "flashgate",
            dependencies: [
                "FlashgateServer", "FlashgateAccounting", "FlashgateStorage", "FlashgateUpstream",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "FlashgateCoreTests", dependencies: ["FlashgateCore", "FlashgateTesting"]),
        .testTarget(
            name: "FlashgateWireTests", dependencies: ["FlashgateWire", "FlashgateTesting"],
            exclude: ["Golden"]),
        .testTarget(
            name: "FlashgateUpstreamTests",
            dependencies: [
                "FlashgateUpstream", "FlashgateTesting",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ]
        ),
        .testTarget(name: "FlashgateStorageTests", dependencies: ["FlashgateStorage", "FlashgateTesting"]),
        .testTarget(
            name: "flashgateTests",
            dependencies: ["flashgate", "FlashgateServer", "FlashgateUpstream", "FlashgateTesting"]),
        .testTarget(
            name: "FlashgateRoutingTests", dependencies: ["FlashgateRouting", "FlashgateUpstream", "FlashgateTesting"]),
        .testTarget(
            name: "FlashgateAccountingTests",
            dependencies: ["FlashgateAccounting", "FlashgateStorage", "FlashgateTesting"]),
        .testTarget(
            name: "FlashgateServerTests",
            dependencies: [
                "FlashgateServer", "FlashgateAccounting", "FlashgateRouting", "FlashgateUpstream", "FlashgateStorage",
                "FlashgateTesting",
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ]),
    ],
    swiftLanguageModes: [.v6]
)

// A nonisolated async function runs on its caller's executor instead of hopping to its own on
// every call: a proxied request made ~48 such hops (each a job queued on the event loop and run on
// a later tick); with this, ~9 (the real suspensions: upstream events, the ledger, the writes).
for target in package.targets where target.type != .system {
    target.swiftSettings = (target.swiftSettings ?? []) + [.enableUpcomingFeature("NonisolatedNonsendingByDefault")]
}
