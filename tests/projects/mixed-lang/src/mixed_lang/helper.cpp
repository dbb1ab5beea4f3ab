#include <numeric>
#include <vector>
extern "C" int mixed_helper(void) {
    std::vector<int> v{MIXED_ANSWER, 0};
    return std::accumulate(v.begin(), v.end(), 0);
}
