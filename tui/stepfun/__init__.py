"""The StepFun ASR protocol: request bodies, the SSE client, typed events and errors."""
