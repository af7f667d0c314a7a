internal import CCurl
import FlashgateCore
import Logging

/// The one checked choke point for libcurl's return codes, as `check` is for LMDB: every easy
/// and multi call goes through here, and none drops its code with `_ =`.
///
/// Setup calls (`setopt`, `init`) must succeed: a failure is a `FlashgateError` naming the call
/// and libcurl's reason — never a URL, host or header. Calls of the running loop (`perform`,
/// `poll`, `wakeup`, `pause`, `remove_handle`) cannot fail a request by themselves: a failure is
/// logged with the call's name, so it is never silent.
enum CurlCheck {
    static func easy(_ code: CURLcode, _ call: StaticString) throws(FlashgateError) {
        guard code != CURLE_OK else { return }
        throw FlashgateError(.internal, "libcurl \(call) failed: \(String(cString: curl_easy_strerror(code)))")
    }

    static func multi(_ code: CURLMcode, _ call: StaticString) throws(FlashgateError) {
        guard code != CURLM_OK else { return }
        throw FlashgateError(.internal, "libcurl \(call) failed: \(String(cString: curl_multi_strerror(code)))")
    }

    /// For calls of the running loop: true when the call succeeded; otherwise logs and answers false.
    @discardableResult
    static func logged(_ code: CURLMcode, _ call: StaticString, _ logger: Logger) -> Bool {
        guard code != CURLM_OK else { return true }
        logger.error("libcurl call failed", metadata: ["call": "\(call)", "reason": "\(String(cString: curl_multi_strerror(code)))"])
        return false
    }

    @discardableResult
    static func logged(_ code: CURLcode, _ call: StaticString, _ logger: Logger) -> Bool {
        guard code != CURLE_OK else { return true }
        logger.error("libcurl call failed", metadata: ["call": "\(call)", "reason": "\(String(cString: curl_easy_strerror(code)))"])
        return false
    }
}
