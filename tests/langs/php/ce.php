<?php
function main( {
    echo "unbalanced\n";
}
