<?php
$blocks = [];
for ($i = 0; $i < 1024; $i++) $blocks[] = str_repeat(chr(65 + $i % 26), 1 << 20); // 1 GiB
echo count($blocks), "\n";
