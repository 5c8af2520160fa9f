// A build output without index.html: the role must refuse it.
