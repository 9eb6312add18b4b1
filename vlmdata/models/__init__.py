"""Models vlmdata builds itself: the tiny offline Qwen3-VL used by the demo, the tests and CI."""
