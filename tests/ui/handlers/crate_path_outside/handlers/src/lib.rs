// unused: the manifest points elsewhere
