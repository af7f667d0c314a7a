print("flashgate")
