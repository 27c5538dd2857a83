POLICY = "review every change"
