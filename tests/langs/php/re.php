<?php
echo intdiv(1, 0), "\n"; // DivisionByZeroError, uncaught
