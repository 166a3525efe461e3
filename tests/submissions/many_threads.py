"""Starts 400 threads (each a task the kernel counts), past a process limit of 64."""

import threading
import time


def unlearn(model, output, forget, retain):
    threads = [threading.Thread(target=time.sleep, args=(5,), daemon=True) for _ in range(400)]
    for thread in threads:
        thread.start()
    print("400 threads started")
