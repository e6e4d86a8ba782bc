// swift-tools-version:6.1
import PackageDescription

/// Every tool links the one shared library (SpladeCore) and the CLI plumbing (SpladeCLI).
let tools = ["splade-tokenize", "splade-encode", "splade-eval", "splade-train", "splade-noise", "splade-filter", "splade-index", "splade-search"]

/// Where `make cuda` puts libsplade_cuda.so (linked, with an rpath, only under the trait CUDA);
/// SPLADE_CUDA_LIB names another directory (`make test-cuda-host` links the host emulation that way).
let cudaLibrary = Context.environment["SPLADE_CUDA_LIB"] ?? Context.packageDirectory + "/deps/cuda/lib"

let package = Package(
    name: "splade",
    platforms: [.macOS(.v14)],
    products: tools.map { .executable(name: $0, targets: [$0]) } + [
        .library(name: "SpladeCore", targets: ["SpladeCore"]),
    ],
    // CUDA (off by default): SpladeCore links deps/cuda/lib/libsplade_cuda.so, built by `make cuda`.
    traits: [.trait(name: "CUDA", description: "The CUDA kernels of `make cuda` (--device cuda)")],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        // C libraries (Debian: libopenblas-dev, libzstd-dev, libmecab-dev). libmecab is the tests' oracle for
        // SpladeCore's own MeCab (Text/MeCabTagger.swift); the tools do not link it.
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CMeCab", providers: [.apt(["libmecab-dev"])]),
        // Optional CUDA kernels (`make cuda`), used only under the trait CUDA.
        .systemLibrary(name: "CSpladeCUDA"),

        // Libraries.
        .target(name: "CSpladeMath", cSettings: [.unsafeFlags(["-O3", "-ffp-contract=off"])]),
        .target(
            name: "SpladeCore",
            dependencies: ["COpenBLAS", "CZstd", "CSpladeMath", .target(name: "CSpladeCUDA", condition: .when(traits: ["CUDA"]))],
            linkerSettings: [.unsafeFlags(["-L\(cudaLibrary)", "-Xlinker", "-rpath", "-Xlinker", cudaLibrary],
                                          .when(traits: ["CUDA"]))]),
        .target(
            name: "SpladeCLI",
            dependencies: ["SpladeCore", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
    ] + tools.map { tool in
        // Tools: thin @main commands.
        .executableTarget(
            name: tool,
            dependencies: ["SpladeCore", "SpladeCLI",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")]
                + (tool == "splade-train" ? [.product(name: "Yams", package: "Yams")] : []))
    } + [
        // Tests.
        .testTarget(name: "SpladeCoreTests", dependencies: ["SpladeCore", "CMeCab"]),
        .testTarget(name: "SpladeCLITests", dependencies: ["SpladeCLI", "SpladeCore"]),
    ]
)
