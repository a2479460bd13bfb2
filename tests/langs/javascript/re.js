null.x = 1; // TypeError, uncaught
